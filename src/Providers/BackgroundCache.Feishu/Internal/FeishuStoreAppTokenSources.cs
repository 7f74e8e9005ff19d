using BackgroundCache.Stores;

namespace BackgroundCache.Feishu.Internal;

/// <summary>
/// A store app's <c>app_access_token</c> (<c>POST /open-apis/auth/v3/app_access_token</c>) with the latest pushed
/// <c>app_ticket</c>. No ticket yet is transient (<see cref="PushedTicketMissingException"/>): Feishu is asked to push one
/// (<c>app_ticket/resend</c>), and the push fetches at once. A ticket Feishu refuses (10012) asks for a resend too.
/// </summary>
internal sealed class FeishuStoreAppTokenSource(FeishuStoreAppApi api) : ITokenSource, ITokenRenewalRule
{
    public TokenRenewal Renewal => FeishuInternalTokenSource.FeishuRenewal;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var o = api.Options;
        var ticket = await api.Tickets.GetTicketAsync(api.TicketKey, cancellationToken).ConfigureAwait(false);
        if (ticket is null)
        {
            await api.ResendTicketAsync(force: false, cancellationToken).ConfigureAwait(false);
            throw new PushedTicketMissingException(
                $"Feishu store app '{api.Name}' ({o.AppId}) has no app_ticket yet: Feishu pushes one every hour to the event URL (MapFeishuEvents) and was asked to push one now (app_ticket/resend); the app_access_token is fetched as soon as it arrives.");
        }

        try
        {
            return await api.PostForTokenAsync(
                "open-apis/auth/v3/app_access_token",
                "app_access_token",
                [new("app_id", o.AppId), new("app_secret", o.AppSecret), new("app_ticket", ticket.Value)],
                cancellationToken).ConfigureAwait(false);
        }
        catch (FeishuApiException ex) when (ex.Kind == FeishuErrorKind.InvalidTicket)
        {
            await api.ResendTicketAsync(force: false, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>
/// A store app's <c>tenant_access_token</c> per <c>tenant_key</c> (<c>POST /open-apis/auth/v3/tenant_access_token</c>), made
/// with the current <c>app_access_token</c>; when Feishu calls that app token invalid, it is reported and the call made once
/// more with its replacement.
/// </summary>
internal sealed class FeishuTenantTokenSource(FeishuStoreAppApi api) : IKeyedTokenSource<string>, ITokenRenewalRule
{
    public TokenRenewal Renewal => FeishuInternalTokenSource.FeishuRenewal;

    public async ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken)
    {
        var appTokens = api.AppToken;
        var appToken = await appTokens.GetAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await FetchAsync(appToken, key, cancellationToken).ConfigureAwait(false);
        }
        catch (FeishuApiException ex) when (ex.Kind == FeishuErrorKind.InvalidToken)
        {
            var replacement = await appTokens.InvalidateAsync(appToken, cancellationToken).ConfigureAwait(false);
            if (replacement.Equals(appToken))
            {
                throw;
            }

            return await FetchAsync(replacement, key, cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<AccessToken> FetchAsync(AccessToken appToken, string tenantKey, CancellationToken cancellationToken) =>
        api.PostForTokenAsync(
            "open-apis/auth/v3/tenant_access_token",
            "tenant_access_token",
            [new("app_access_token", appToken.Value), new("tenant_key", tenantKey)],
            cancellationToken);
}
