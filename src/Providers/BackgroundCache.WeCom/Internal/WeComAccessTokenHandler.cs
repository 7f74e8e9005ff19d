using BackgroundCache.Platform;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.WeCom.Internal;

/// <summary>
/// Adds the current access token as the <c>access_token</c> query parameter; when WeCom answers that the token is invalid
/// or expired (40014, 42001), reports it (coalesced with every other caller) and retries once with the replacement.
/// 301002 (the token of another app) is not retried: a new token of the same app would be refused the same way.
/// </summary>
internal sealed class WeComAccessTokenHandler(Func<HttpRequestMessage, (IRefreshingCache<AccessToken> Cache, string Name)> resolve, ILogger logger) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var (cache, cacheName) = resolve(request);
        var token = await cache.GetAsync(cancellationToken).ConfigureAwait(false);
        if (request.Content is { } content)
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false); // sent twice when the token is refused
        }

        request.RequestUri = AccessTokenQuery.WithToken(uri, token.Value);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var code = await AccessTokenQuery.PeekErrorCodeAsync(response, cancellationToken).ConfigureAwait(false);
        if (code is not (40014 or 42001))
        {
            return response;
        }

        var replacement = await cache.InvalidateAsync(token, cancellationToken).ConfigureAwait(false);
        if (replacement.Equals(token))
        {
            return response;
        }

        Log.TokenRejected(logger, cacheName, token.Fingerprint, code, replacement.Fingerprint);
        response.Dispose();
        request.RequestUri = AccessTokenQuery.WithToken(uri, replacement.Value);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
