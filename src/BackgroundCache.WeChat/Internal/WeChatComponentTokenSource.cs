namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Fetches the platform's <c>component_access_token</c> with the latest stored <c>component_verify_ticket</c>. No ticket
/// yet, or one WeChat calls expired or invalid (61005/61006), is a transient failure: the next push fetches at once.
/// WeChat does not say that a fetch returns the token already issued, so each fetch is taken to replace it.
/// </summary>
internal sealed class WeChatComponentTokenSource(WeChatComponentApi api) : ITokenSource, ITokenRenewalRule
{
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var options = api.Options;
        var ticket = await api.Store.GetTicketAsync(options.ComponentAppId, cancellationToken).ConfigureAwait(false)
            ?? throw new WeChatApiException(
                0,
                "no component_verify_ticket yet",
                WeChatErrorKind.Transient,
                $"Third-party platform '{api.Name}' ({options.ComponentAppId}) has no component_verify_ticket yet: WeChat pushes one every 10 minutes to the event URL (MapWeChatOpenPlatformEvents); the component token is fetched as soon as one arrives.");

        var started = api.Time.GetUtcNow();
        using var document = await api.PostAsync(
            "cgi-bin/component/api_component_token",
            [
                new("component_appid", options.ComponentAppId),
                new("component_appsecret", options.ComponentAppSecret),
                new("component_verify_ticket", ticket.Value),
            ],
            cancellationToken).ConfigureAwait(false);
        var (value, expiresIn, problem) = WeChatJson.ReadSecret(document.RootElement, "component_access_token");
        if (value is null)
        {
            throw WeChatErrors.InvalidResponse(options.ComponentAppId, $"a component token answer with {problem}", null);
        }

        var token = new AccessToken(value, started.AddSeconds(expiresIn));
        Log.OpenPlatformTokenFetched(api.Logger, api.Name, "component", options.ComponentAppId, token.Fingerprint, expiresIn);
        return token;
    }
}
