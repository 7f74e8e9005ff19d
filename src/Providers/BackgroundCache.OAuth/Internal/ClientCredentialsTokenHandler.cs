using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.OAuth.Internal;

/// <summary>
/// Adds <c>Authorization: Bearer</c> with the cache's current token. When the API answers 401 with
/// <c>WWW-Authenticate: Bearer error="invalid_token"</c>, reports that token (one refresh for every caller that saw it) and
/// sends the request once more with the replacement; a second 401 is returned as it is. A request whose body cannot be
/// sent twice (a stream of unknown or large length) is not retried.
/// </summary>
internal sealed class ClientCredentialsTokenHandler(Func<HttpRequestMessage, (IRefreshingCache<AccessToken> Cache, string Name)> resolve, ILogger logger)
    : DelegatingHandler
{
    /// <summary>The largest body of unknown replayability that is buffered so that the request can be sent again.</summary>
    internal const long MaxBufferedBodyBytes = 1024 * 1024;

    private static readonly Regex InvalidToken = new(
        "(?:^|,)\\s*error\\s*=\\s*\"?invalid_token\"?\\s*(?:,|$)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled,
        TimeSpan.FromSeconds(1));

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (cache, name) = resolve(request);
        if (!cache.TryGetValue(out var token))
        {
            token = await cache.GetAsync(cancellationToken).ConfigureAwait(false);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        var replayable = await PrepareReplayAsync(request.Content, cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !IsInvalidToken(response.Headers.WwwAuthenticate))
        {
            return response;
        }

        var host = request.RequestUri?.Host ?? "the API";
        AccessToken replacement;
        try
        {
            replacement = await cache.InvalidateAsync(token, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.ReplacementFailed(logger, ex, name, token.Fingerprint, host);
            return response;
        }

        if (!replayable)
        {
            Log.TokenRejectedNotRetried(logger, name, token.Fingerprint, host, "its body cannot be sent twice; the token was replaced for the next request");
            return response;
        }

        if (replacement.Equals(token))
        {
            Log.TokenRejectedNotRetried(logger, name, token.Fingerprint, host, "the issuer returned the same token");
            return response;
        }

        Log.TokenRejected(logger, name, token.Fingerprint, host, replacement.Fingerprint);
        response.Dispose();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", replacement.Value);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    internal static bool IsInvalidToken(HttpHeaderValueCollection<AuthenticationHeaderValue> challenges)
    {
        foreach (var challenge in challenges)
        {
            if (string.Equals(challenge.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase)
                && challenge.Parameter is { } parameter
                && InvalidToken.IsMatch(parameter))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="content"/> can be sent a second time: no body; a body the content type rebuilds from memory
    /// (bytes, strings, forms, JSON, multipart of such parts); or any other body of known length up to
    /// <see cref="MaxBufferedBodyBytes"/>, which is buffered first. A stream of unknown or larger length is sent once only.
    /// </summary>
    internal static async ValueTask<bool> PrepareReplayAsync(HttpContent? content, CancellationToken cancellationToken)
    {
        if (content is null || IsRebuiltFromMemory(content))
        {
            return true;
        }

        if (content.Headers.ContentLength is { } length && length <= MaxBufferedBodyBytes)
        {
#if NET
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
#else
            cancellationToken.ThrowIfCancellationRequested();
            await content.LoadIntoBufferAsync().ConfigureAwait(false);
#endif
            return true;
        }

        return false;
    }

    private static bool IsRebuiltFromMemory(HttpContent content) => content switch
    {
        ByteArrayContent => true, // StringContent and FormUrlEncodedContent too
#if NET
        ReadOnlyMemoryContent => true,
#endif
        MultipartContent multipart => multipart.All(IsRebuiltFromMemory),
        _ => string.Equals(content.GetType().FullName, "System.Net.Http.Json.JsonContent", StringComparison.Ordinal),
    };
}
