using BackgroundCache.Stores;

namespace BackgroundCache.WeCom.Internal;

/// <summary>
/// Fetches the <c>suite_access_token</c> (<c>service/get_suite_token</c>) with the latest pushed <c>suite_ticket</c>; no
/// ticket yet is transient (<see cref="PushedTicketMissingException"/>): WeCom pushes one every 10 minutes, and a push
/// fetches at once.
/// </summary>
internal sealed class WeComSuiteTokenSource(WeComSuiteApi api) : ITokenSource, ITokenRenewalRule
{
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var options = api.Options;
        var ticket = await api.Tickets.GetTicketAsync(api.TicketKey, cancellationToken).ConfigureAwait(false)
            ?? throw new PushedTicketMissingException(
                $"{api.Subject} has no suite_ticket yet: WeCom pushes one every 10 minutes to the instruction URL (MapWeComSuiteEvents); the suite token is fetched as soon as one arrives.");
        var started = api.Time.GetUtcNow();
        using var document = await api.PostAsync(
            "cgi-bin/service/get_suite_token",
            [("suite_id", options.SuiteId), ("suite_secret", options.SuiteSecret), ("suite_ticket", ticket.Value)],
            cancellationToken).ConfigureAwait(false);
        var (value, expiresIn) = WeComApi.ReadExpiring(document.RootElement, "suite_access_token", api.Subject);
        var token = new AccessToken(value, started.AddSeconds(expiresIn));
        Log.TokenFetched(api.Logger, api.Name, token.Fingerprint, expiresIn);
        return token;
    }
}
