namespace BackgroundCache.WeCom.Internal;

/// <summary>
/// Fetches an authorized corp's access token (<c>service/get_corp_token</c>) with the suite token and the corp's
/// permanent code from the <see cref="Stores.IRefreshSecretStore"/>. A corp without a permanent code, or whose code WeCom
/// refuses (40084: the authorization was cancelled), is not found (<see cref="CacheKeyNotFoundException"/>).
/// </summary>
internal sealed class WeComCorpTokenSource(WeComSuiteApi api) : IKeyedTokenSource<string>, ITokenRenewalRule
{
    /// <summary>A seed with less life left than this is not used.</summary>
    private static readonly TimeSpan SeedMinRemaining = TimeSpan.FromMinutes(10);

    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    public async ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (api.Seeds.TryRemove(key, out var seed) && seed.ExpiresAt - api.Time.GetUtcNow() >= SeedMinRemaining)
        {
            return seed;
        }

        var stored = await api.Secrets.GetSecretAsync(api.PermanentCodesScope, key, cancellationToken).ConfigureAwait(false);
        if (stored?.Value is not { Length: > 0 } permanentCode)
        {
            throw NotAuthorized(key, null);
        }

        var started = api.Time.GetUtcNow();
        try
        {
            using var document = await api.PostWithSuiteTokenAsync(
                "cgi-bin/service/get_corp_token",
                [("auth_corpid", key), ("permanent_code", permanentCode)],
                cancellationToken).ConfigureAwait(false);
            var (value, expiresIn) = WeComApi.ReadExpiring(document.RootElement, "access_token", api.Subject);
            var token = new AccessToken(value, started.AddSeconds(expiresIn));
            Log.CorpTokenFetched(api.Logger, api.Name, key, token.Fingerprint, expiresIn);
            return token;
        }
        catch (WeComApiException ex) when (ex.Kind == WeComErrorKind.AuthorizationRevoked)
        {
            await api.Secrets.RemoveSecretAsync(api.PermanentCodesScope, key, permanentCode, CancellationToken.None).ConfigureAwait(false);
            throw NotAuthorized(key, ex);
        }
    }

    private CacheKeyNotFoundException NotAuthorized(string corpId, WeComApiException? cause) => new(
        cause is null
            ? $"Corp '{corpId}' has not authorized {api.Subject}: no permanent code is stored for it (create_auth, or WeComSuite.AuthorizeAsync, stores one)."
            : $"Corp '{corpId}' is no longer authorized for {api.Subject}: WeCom refused its permanent code (errcode {cause.ErrorCode}). It must install the app again.",
        cause);
}
