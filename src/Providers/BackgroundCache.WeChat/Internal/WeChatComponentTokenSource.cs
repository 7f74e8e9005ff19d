using BackgroundCache.Stores;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Fetches the platform's <c>component_access_token</c> with the latest stored <c>component_verify_ticket</c>. No ticket
/// yet is an expected, transient state (<see cref="PushedTicketMissingException"/>, logged once): the source asks WeChat
/// to start pushing tickets (<c>api_start_push_ticket</c>) once, and again at most once per ticket interval while none
/// arrives, and the next push fetches at once. A ticket WeChat calls expired or invalid (61005/61006) is transient too.
/// WeChat does not say that a fetch returns the token already issued, so each fetch is taken to replace it.
/// </summary>
internal sealed class WeChatComponentTokenSource(WeChatComponentApi api) : ITokenSource, ITokenRenewalRule
{
    /// <summary>WeChat pushes a ticket every 10 minutes: asking for pushes more often than that cannot help.</summary>
    internal static readonly TimeSpan StartPushInterval = TimeSpan.FromMinutes(10);

    private readonly object _gate = new();
    private DateTimeOffset? _nextStartPushAt;

    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var options = api.Options;
        var ticket = await api.Tickets.GetTicketAsync(api.TicketKey, cancellationToken).ConfigureAwait(false);
        if (ticket is null)
        {
            await StartPushesAsync(cancellationToken).ConfigureAwait(false);
            throw new PushedTicketMissingException(
                $"Third-party platform '{api.Name}' ({options.ComponentAppId}) has no component_verify_ticket yet: WeChat pushes one every 10 minutes to the event URL (MapWeChatOpenPlatformEvents), and was asked to start pushing (api_start_push_ticket); the component token is fetched as soon as one arrives.");
        }

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

    /// <summary>Calls <c>api_start_push_ticket</c> unless it was called within <see cref="StartPushInterval"/>; its failure only logs.</summary>
    private async Task StartPushesAsync(CancellationToken cancellationToken)
    {
        var now = api.Time.GetUtcNow();
        lock (_gate)
        {
            if (_nextStartPushAt is { } next && now < next)
            {
                return;
            }

            _nextStartPushAt = now + StartPushInterval;
        }

        var options = api.Options;
        try
        {
            using var answer = await api.PostAsync(
                "cgi-bin/component/api_start_push_ticket",
                [new("component_appid", options.ComponentAppId), new("component_secret", options.ComponentAppSecret)],
                cancellationToken).ConfigureAwait(false);
            Log.StartPushTicketRequested(api.Logger, api.Name);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.StartPushTicketFailed(api.Logger, api.Name, ex.Message);
        }
    }
}
