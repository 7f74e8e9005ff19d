using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Fetches an Open Platform authorizer's JS-SDK ticket with its current <c>authorizer_access_token</c>; a rejected token is
/// invalidated and the attempt fails transiently, so the retry uses the new token.
/// </summary>
internal static class AuthorizerJsApiTicketFetcher
{
    public static async ValueTask<WeChatJsApiTicket> FetchAsync(IServiceProvider services, string name, string authorizerAppId, CancellationToken cancellationToken)
    {
        var api = services.GetRequiredKeyedService<WeChatComponentApi>(name);
        var tokens = api.Authorizers;
        var options = api.Options;
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient(options.HttpClientName);

        var token = await tokens.GetAsync(authorizerAppId, cancellationToken).ConfigureAwait(false);
        var started = api.Time.GetUtcNow();
        var uri = new Uri(options.BaseAddress, $"cgi-bin/ticket/getticket?access_token={Uri.EscapeDataString(token.Value)}&type=jsapi");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        using var document = await WeChatJson.SendAsync(client, request, authorizerAppId, cancellationToken).ConfigureAwait(false);
        var (code, message) = WeChatJson.GetError(document.RootElement, options.ComponentAppSecret);
        if (code != 0)
        {
            if (WeChatErrors.IsTokenRejection(code))
            {
                tokens.GetOrAdd(authorizerAppId).Invalidate(token);
                Log.TicketTokenRejected(api.Logger, $"{name}[{authorizerAppId}]", token.Fingerprint, code);
            }

            throw WeChatErrors.FromErrorCode(code, message, authorizerAppId, api.Time);
        }

        var (value, expiresIn, problem) = WeChatJson.ReadSecret(document.RootElement, "ticket");
        return value is null
            ? throw WeChatErrors.InvalidResponse(authorizerAppId, $"a ticket answer with {problem}", null)
            : new WeChatJsApiTicket(value, started.AddSeconds(expiresIn));
    }
}
