using Microsoft.Extensions.Logging;

namespace BackgroundCache.Platforms;

/// <summary>
/// The token-attaching handler of a platform package: puts the cache's current token on each request (the platform's header
/// or query parameter), and when the answer says the token is invalid or expired, reports that token
/// (<see cref="IRefreshingCache{T}.InvalidateAsync"/>: one refresh for every caller that saw it) and sends the request once
/// more with the replacement. A second failure is returned as it is; a body that cannot be sent twice is not sent again.
/// </summary>
internal abstract class PlatformTokenHandler(IRefreshingCache<AccessToken> cache, string cacheName, ILogger logger) : DelegatingHandler
{
    /// <summary>The largest body of unknown replayability that is buffered so that the request can be sent again.</summary>
    internal const long MaxBufferedBodyBytes = 1024 * 1024;

    /// <summary>Gets the platform's name for log messages.</summary>
    protected abstract string Platform { get; }

    /// <summary>Puts <paramref name="token"/> on <paramref name="request"/>, replacing any token already there.</summary>
    protected abstract void Attach(HttpRequestMessage request, string token);

    /// <summary>
    /// Reads the platform's invalid-token code from an answer, or null when the answer is anything else. The body was
    /// buffered (at most 64 KiB) and stays readable for the caller.
    /// </summary>
    protected abstract string? ReadTokenRejection(PlatformAnswer answer);

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!cache.TryGetValue(out var token))
        {
            token = await cache.GetAsync(cancellationToken).ConfigureAwait(false);
        }

        Attach(request, token.Value);
        var replayable = await PrepareReplayAsync(request.Content, cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var code = await PeekRejectionAsync(response, cancellationToken).ConfigureAwait(false);
        if (code is null)
        {
            return response;
        }

        AccessToken replacement;
        try
        {
            replacement = await cache.InvalidateAsync(token, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            PlatformLog.ReplacementFailed(logger, ex, Platform, cacheName, token.Fingerprint, code);
            return response;
        }

        if (!replayable || replacement.Equals(token))
        {
            PlatformLog.TokenRejectedNotRetried(logger, Platform, cacheName, token.Fingerprint, code, replayable ? "the issuer returned the same token" : "its body cannot be sent twice");
            return response;
        }

        PlatformLog.TokenRejected(logger, Platform, cacheName, token.Fingerprint, code, replacement.Fingerprint);
        response.Dispose();
        Attach(request, replacement.Value);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Replaces (or adds) the query parameter <paramref name="parameter"/> of <paramref name="uri"/>.</summary>
    protected static Uri WithQueryParameter(Uri uri, string parameter, string value)
    {
        var builder = new UriBuilder(uri);
        var query = builder.Query.TrimStart('?');
        var kept = query.Length == 0
            ? []
            : query.Split('&').Where(p => p.Length > 0 && !p.StartsWith(parameter + "=", StringComparison.Ordinal) && p != parameter);
        builder.Query = string.Join("&", kept.Concat([parameter + "=" + Uri.EscapeDataString(value)]));
        return builder.Uri;
    }

    private async Task<string?> PeekRejectionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content is null || response.Content.Headers.ContentLength is > PlatformHttp.MaxBodyBytes)
        {
            return null;
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is not null && !mediaType.Contains("json", StringComparison.OrdinalIgnoreCase) && !mediaType.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

#if NET
        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
#else
        await response.Content.LoadIntoBufferAsync().ConfigureAwait(false);
#endif
        // Read from the buffer (a copy): the caller still reads the whole body.
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return body.Length > PlatformHttp.MaxBodyBytes ? null : ReadTokenRejection(new PlatformAnswer(response.StatusCode, mediaType, body, null));
    }

    private static async ValueTask<bool> PrepareReplayAsync(HttpContent? content, CancellationToken cancellationToken)
    {
        if (content is null or ByteArrayContent)
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
}

/// <summary>The handler's log messages (event ids 5900-5909, shared by the platform packages); no token or secret in any.</summary>
internal static partial class PlatformLog
{
    public const int TokenRejectedId = 5900;
    public const int TokenRejectedNotRetriedId = 5901;
    public const int ReplacementFailedId = 5902;

    [LoggerMessage(TokenRejectedId, LogLevel.Information, "{Platform} token '{CacheName}' ({Fingerprint}) was rejected ({Code}); retrying once with {Replacement}.")]
    public static partial void TokenRejected(ILogger logger, string platform, string cacheName, string fingerprint, string code, string replacement);

    [LoggerMessage(TokenRejectedNotRetriedId, LogLevel.Warning, "{Platform} token '{CacheName}' ({Fingerprint}) was rejected ({Code}); the request is not retried: {Reason}.")]
    public static partial void TokenRejectedNotRetried(ILogger logger, string platform, string cacheName, string fingerprint, string code, string reason);

    [LoggerMessage(ReplacementFailedId, LogLevel.Warning, "{Platform} token '{CacheName}' ({Fingerprint}) was rejected ({Code}) and no replacement could be fetched; the answer is returned.")]
    public static partial void ReplacementFailed(ILogger logger, Exception error, string platform, string cacheName, string fingerprint, string code);
}
