using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Feishu.Internal;

/// <summary>
/// Adds <c>Authorization: Bearer</c> with the cache's current token. Feishu says a token is invalid or expired in the JSON
/// body's <c>code</c> (99991663, 99991664, 99991671, 99991677), usually with HTTP 400 or 401: the handler peeks the code of
/// such answers (and of small 200 JSON answers), reports the token (one refresh for every caller that saw it) and sends the
/// request once more with the replacement. A second rejection is returned as it is; so is the first when Feishu hands back
/// the same token, or when the request body cannot be sent twice.
/// </summary>
internal sealed class FeishuTokenHandler(Func<HttpRequestMessage, (IRefreshingCache<AccessToken> Cache, string Name)> resolve, ILogger logger)
    : DelegatingHandler
{
    /// <summary>The largest request body buffered so that the request can be sent again.</summary>
    internal const long MaxReplayBytes = 1024 * 1024;

    /// <summary>The largest answer whose code is peeked.</summary>
    internal const long MaxPeekBytes = 16 * 1024;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (cache, name) = resolve(request);
        if (!cache.TryGetValue(out var token))
        {
            token = await cache.GetAsync(cancellationToken).ConfigureAwait(false);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Value);
        var content = request.Content;
        var replayable = content is null or ByteArrayContent
            || content.Headers.ContentLength is <= MaxReplayBytes
            || string.Equals(content.GetType().FullName, "System.Net.Http.Json.JsonContent", StringComparison.Ordinal);
        if (replayable && content is not null and not ByteArrayContent)
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var code = await PeekRejectionAsync(response, cancellationToken).ConfigureAwait(false);
        if (code == 0)
        {
            return response;
        }

        var host = request.RequestUri?.Host ?? "Feishu";
        AccessToken replacement;
        try
        {
            replacement = await cache.InvalidateAsync(token, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.TokenRejectedNotRetried(logger, name, token.Fingerprint, host, code, "no replacement could be fetched (" + ex.GetType().Name + ")");
            return response;
        }

        if (replacement.Equals(token) || !replayable)
        {
            Log.TokenRejectedNotRetried(logger, name, token.Fingerprint, host, code, replayable ? "Feishu returned the same token" : "its body cannot be sent twice");
            return response;
        }

        Log.TokenRejected(logger, name, token.Fingerprint, host, code, replacement.Fingerprint);
        response.Dispose();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", replacement.Value);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> PeekRejectionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var length = response.Content.Headers.ContentLength;
        var candidate = status is 400 or 401 or 403 ? length is null or <= MaxPeekBytes : length is <= 1024 && response.IsSuccessStatusCode;
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (!candidate || (mediaType is not null && mediaType.IndexOf("json", StringComparison.OrdinalIgnoreCase) < 0))
        {
            return 0;
        }

        // Buffered: the caller can still read the body.
        try
        {
#if NET
        await response.Content.LoadIntoBufferAsync(MaxPeekBytes, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
#else
        cancellationToken.ThrowIfCancellationRequested();
        await response.Content.LoadIntoBufferAsync(MaxPeekBytes).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
#endif
        var code = FeishuHttp.PeekCode(body);
        return FeishuErrors.IsTokenRejection(code) ? code : 0;
        }
        catch (HttpRequestException)
        {
            return 0; // larger than an error answer: not a rejection
        }
    }
}
