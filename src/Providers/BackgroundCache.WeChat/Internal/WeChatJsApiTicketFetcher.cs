using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Fetches the JS-SDK ticket with the app's current access token; a rejected token is invalidated and the attempt fails
/// transiently, so the retry uses the new token.
/// </summary>
internal static class WeChatJsApiTicketFetcher
{
    public static async ValueTask<WeChatJsApiTicket> FetchAsync(IServiceProvider services, string name, CancellationToken cancellationToken)
    {
        var tokens = services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);
        var options = services.GetRequiredService<IOptionsMonitor<WeChatOptions>>().Get(name);
        var time = services.GetRequiredService<TimeProvider>();
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient(options.HttpClientName);

        var token = await tokens.GetAsync(cancellationToken).ConfigureAwait(false);
        var started = time.GetUtcNow();
        var uri = new Uri(options.BaseAddress, $"cgi-bin/ticket/getticket?access_token={Uri.EscapeDataString(token.Value)}&type=jsapi");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var document = await WeChatJson.SendAsync(client, request, options.AppId, cancellationToken).ConfigureAwait(false);
        var (code, message) = WeChatJson.GetError(document.RootElement, options.AppSecret);
        if (code != 0)
        {
            if (WeChatErrors.IsTokenRejection(code))
            {
                tokens.Invalidate(token);
                var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat");
                Log.TicketTokenRejected(logger, name, token.Fingerprint, code);
            }

            throw WeChatErrors.FromErrorCode(code, message, options.AppId, time);
        }

        var (value, expiresIn, problem) = WeChatJson.ReadSecret(document.RootElement, "ticket");
        return value is null
            ? throw WeChatErrors.InvalidResponse(options.AppId, $"a ticket answer with {problem}", null)
            : new WeChatJsApiTicket(value, started.AddSeconds(expiresIn));
    }
}
