using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Feishu.Internal;

/// <summary>
/// Fetches a custom app's <c>tenant_access_token</c> or <c>app_access_token</c> with
/// <c>POST /open-apis/auth/v3/{tenant|app}_access_token/internal</c>. Feishu returns the token already issued while at least
/// 30 minutes of it remain and a new one (the old still valid) inside its last 30 minutes: declared to the engine as
/// <see cref="TokenRenewal.SameUntilWindow(TimeSpan)"/>, so a refresh lead longer than that waits for the window.
/// </summary>
internal sealed class FeishuInternalTokenSource(
    string name,
    bool appToken,
    IHttpClientFactory httpClientFactory,
    IOptionsMonitor<FeishuOptions> options,
    TimeProvider time,
    ILogger logger) : ITokenSource, ITokenRenewalRule
{
    /// <summary>Feishu's rule for tenant and app tokens: the same token until its last 30 minutes.</summary>
    public static readonly TokenRenewal FeishuRenewal = TokenRenewal.SameUntilWindow(TimeSpan.FromMinutes(30));

    public TokenRenewal Renewal => FeishuRenewal;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var o = options.Get(name);
        var field = appToken ? "app_access_token" : "tenant_access_token";
        var path = $"open-apis/auth/v3/{field}/internal";
        var started = time.GetUtcNow();
        using var document = await FeishuHttp.PostAsync(
            httpClientFactory.CreateClient(o.HttpClientName),
            o.BaseAddress,
            path,
            [new("app_id", o.AppId), new("app_secret", o.AppSecret)],
            o.AppId,
            [o.AppSecret],
            cancellationToken).ConfigureAwait(false);
        var (value, expire) = FeishuHttp.ReadToken(document.RootElement, field, o.AppId, path);
        var token = new AccessToken(value, started.AddSeconds(expire));
        Log.TokenFetched(logger, name, field, token.Fingerprint, expire);
        return token;
    }
}
