using BackgroundCache.DingTalk;
using BackgroundCache.Douyin;
using BackgroundCache.Feishu;
using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeCom;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal.Providers;

/// <summary>
/// A platform with WeChat's token shape (an id and a secret in, a token out): WeCom, Feishu/Lark, DingTalk, Douyin. Each is
/// one instance of this class: its registration, its keys, where its token calls go, and its documented quotas.
/// </summary>
internal sealed class PlatformHubProvider<TOptions>(PlatformHubProvider<TOptions>.Spec spec) : HubProvider
    where TOptions : class, new()
{
    public override string Name => spec.Name;

    public override string Issuer => spec.Issuer;

    public override bool HasTickets => spec.Ticket is not null;

    public override void Register(HubAppRegistration app)
    {
        app.Coordinate(spec.Add(app.Services, app.Name, app.Section).WithHealthCheck($"token:{app.Name}"));
        app.HealthCheck($"token:{app.Name}");
        if (app.Ticket && spec.Ticket is { } ticket)
        {
            ticket.Register(app);
            app.HealthCheck($"jsapi_ticket:{app.Name}");
        }
    }

    public override void Emulate(IServiceCollection services, string app, Uri baseAddress, string secret) =>
        services.PostConfigure<TOptions>(app, o => spec.Emulate(o, baseAddress, secret));

    public override IEnumerable<string> Validate(IConfigurationSection section, string app, bool emulated, bool development)
    {
        if (spec.IdKeys.All(k => string.IsNullOrWhiteSpace(section[k])))
        {
            yield return $"TokenHub:Apps:{app}:{string.Join(" (or :", spec.IdKeys)}{(spec.IdKeys.Length > 1 ? ")" : string.Empty)} is required (Provider {Name}).";
        }

        if (!emulated && string.IsNullOrEmpty(section[spec.SecretKey]))
        {
            yield return development
                ? $"TokenHub:Apps:{app}:{spec.SecretKey} is required (or serve the app from an emulator)."
                : $"TokenHub:Apps:{app}:{spec.SecretKey} is required outside Development (set it through an environment variable or a secret store).";
        }
    }

    public override IRefreshingCache<AccessToken> Token(IServiceProvider services, string app) =>
        services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(app);

    public override HubTicket? Ticket(IServiceProvider services, string app) => spec.Ticket?.Resolve(services, app);

    public override string Identity(IServiceProvider services, string app) => spec.Identity(Options(services, app));

    public override Uri? Endpoint(IServiceProvider services, string app) => spec.Endpoint(Options(services, app));

    public override string HttpClientName(IServiceProvider services, string app) => spec.GetHttpClient(Options(services, app));

    public override void UseHttpClient(IServiceCollection services, string app, string httpClientName) =>
        services.PostConfigure<TOptions>(app, o => spec.SetHttpClient(o, httpClientName));

    public override IReadOnlyList<QuotaWindow> DefaultQuotas(IConfigurationSection section) => spec.Quotas(section);

    public override ValueTask<QuotaCalls> ClassifyAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(spec.TokenPaths.Any(p => PathEndsWith(request, p)) ? QuotaCalls.Token : QuotaCalls.None);

    private static TOptions Options(IServiceProvider services, string app) => services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(app);

    /// <summary>What makes one platform.</summary>
    internal sealed record Spec(
        string Name,
        string Issuer,
        Func<IServiceCollection, string, IConfiguration, RefreshingCacheBuilder<AccessToken>> Add,
        string[] IdKeys,
        string SecretKey,
        Func<TOptions, string> Identity,
        Func<TOptions, Uri> Endpoint,
        Func<TOptions, string> GetHttpClient,
        Action<TOptions, string> SetHttpClient,
        Action<TOptions, Uri, string> Emulate,
        string[] TokenPaths,
        Func<IConfigurationSection, IReadOnlyList<QuotaWindow>> Quotas,
        TicketSpec? Ticket = null);

    /// <summary>A platform's JS-SDK ticket: its registration and its view for the hub.</summary>
    internal sealed record TicketSpec(Action<HubAppRegistration> Register, Func<IServiceProvider, string, HubTicket> Resolve);
}

/// <summary>The platforms of UPSTREAMS.md with WeChat's token shape, as hub providers.</summary>
internal static class PlatformHubProviders
{
    private static QuotaWindow Window(string name, TimeSpan length, long? limit) => new(name, length, QuotaCalls.Token, limit);

    /// <summary>WeCom <c>gettoken</c>: 10,000 a minute and 150,000 an hour per corp; the corp's JS-SDK ticket when asked.</summary>
    public static HubProvider WeCom { get; } = new PlatformHubProvider<WeComOptions>(new(
        "WeCom",
        "WeCom",
        (s, n, c) => s.AddWeComAccessToken(n, c),
        [nameof(WeComOptions.CorpId)],
        nameof(WeComOptions.CorpSecret),
        o => o.CorpId,
        o => o.BaseAddress,
        o => o.HttpClientName,
        (o, name) => o.HttpClientName = name,
        (o, address, secret) => (o.BaseAddress, o.CorpSecret) = (address, secret),
        ["/cgi-bin/gettoken"],
        _ => [Window("minute", TimeSpan.FromMinutes(1), 10_000), Window("hour", TimeSpan.FromHours(1), 150_000)],
        new(
            app => app.Coordinate(app.Services.AddWeComJsApiTicket(app.Name).WithHealthCheck($"jsapi_ticket:{app.Name}")),
            (services, app) => HubTicket.Of(
                services.GetRequiredKeyedService<IRefreshingCache<WeComJsApiTicket>>(app),
                t => t.Value,
                t => t.ExpiresAt,
                (t, nonce, timestamp, url) => t.CreateSignature(nonce, timestamp, url)))));

    /// <summary>Feishu/Lark <c>tenant_access_token/internal</c>: no documented number, counted per day.</summary>
    public static HubProvider Feishu { get; } = new PlatformHubProvider<FeishuOptions>(new(
        "Feishu",
        "Feishu/Lark",
        (s, n, c) => s.AddFeishuTenantAccessToken(n, c),
        [nameof(FeishuOptions.AppId)],
        nameof(FeishuOptions.AppSecret),
        o => o.AppId,
        o => o.BaseAddress,
        o => o.HttpClientName,
        (o, name) => o.HttpClientName = name,
        (o, address, secret) => (o.BaseAddress, o.AppSecret) = (address, secret),
        ["/tenant_access_token/internal", "/tenant_access_token/internal/"],
        _ => [Window("day", TimeSpan.FromDays(1), null)]));

    /// <summary>DingTalk <c>oauth2/accessToken</c> (or the old <c>gettoken</c>): no documented per-app number, counted per day.</summary>
    public static HubProvider DingTalk { get; } = new PlatformHubProvider<DingTalkOptions>(new(
        "DingTalk",
        "DingTalk",
        (s, n, c) => s.AddDingTalkAccessToken(n, c),
        [nameof(DingTalkOptions.AppKey), nameof(DingTalkOptions.ClientId)],
        nameof(DingTalkOptions.AppSecret),
        o => o.AppKey,
        o => o.BaseAddress,
        o => o.HttpClientName,
        (o, name) => o.HttpClientName = name,
        (o, address, secret) => (o.BaseAddress, o.LegacyBaseAddress, o.AppSecret) = (address, address, secret),
        ["/v1.0/oauth2/accessToken", "/gettoken"],
        _ => [Window("day", TimeSpan.FromDays(1), null)]));

    /// <summary>Douyin <c>oauth/client_token</c>: 500 calls per 5 minutes (10020 beyond); the stable token: counted per day.</summary>
    public static HubProvider Douyin { get; } = new PlatformHubProvider<DouyinOptions>(new(
        "Douyin",
        "Douyin",
        (s, n, c) => s.AddDouyinClientToken(n, c),
        [nameof(DouyinOptions.ClientKey)],
        nameof(DouyinOptions.ClientSecret),
        o => o.ClientKey,
        o => o.BaseAddress,
        o => o.HttpClientName,
        (o, name) => o.HttpClientName = name,
        (o, address, secret) => (o.BaseAddress, o.ClientSecret) = (address, secret),
        ["/oauth/client_token/", "/oauth/client_token", "/oauth/stable_client_token/", "/oauth/stable_client_token"],
        section => section.GetValue<bool>(nameof(DouyinOptions.Stable))
            ? [Window("day", TimeSpan.FromDays(1), null)]
            : [Window("five_minutes", TimeSpan.FromMinutes(5), 500), Window("day", TimeSpan.FromDays(1), null)]));
}
