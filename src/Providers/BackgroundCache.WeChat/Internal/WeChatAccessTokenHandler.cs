using BackgroundCache.Platform;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Adds the current access token as the <c>access_token</c> query parameter; when WeChat answers that the token is
/// invalid or expired (40001, 40014, 42001), invalidates that token (coalesced with every other caller) and retries once.
/// </summary>
internal sealed class WeChatAccessTokenHandler(Func<HttpRequestMessage, (IRefreshingCache<AccessToken> Cache, string Name)> resolve, ILogger logger) : DelegatingHandler
{
    public WeChatAccessTokenHandler(IRefreshingCache<AccessToken> cache, string cacheName, ILogger logger)
        : this(_ => (cache, cacheName), logger)
    {
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        var (cache, cacheName) = resolve(request);
        var token = await cache.GetAsync(cancellationToken).ConfigureAwait(false);
        request.RequestUri = AccessTokenQuery.WithToken(uri, token.Value);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);

        var code = await AccessTokenQuery.PeekErrorCodeAsync(response, cancellationToken).ConfigureAwait(false);
        if (!WeChatErrors.IsTokenRejection(code))
        {
            return response;
        }

        var replacement = await cache.InvalidateAsync(token, cancellationToken).ConfigureAwait(false);
        if (replacement.Equals(token))
        {
            return response; // Nothing better to try; the source has logged why.
        }

        Log.TokenRejected(logger, cacheName, token.Fingerprint, code, replacement.Fingerprint);
        response.Dispose();
        request.RequestUri = AccessTokenQuery.WithToken(uri, replacement.Value);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
