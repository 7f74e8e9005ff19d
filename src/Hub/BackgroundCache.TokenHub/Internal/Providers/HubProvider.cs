using BackgroundCache.StackExchangeRedis;
using BackgroundCache.TokenHub.Internal.Quota;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.TokenHub.Internal.Providers;

/// <summary>
/// One issuer the hub can serve (<c>TokenHub:Apps:{name}:Provider</c>): how an app's section registers its caches, what
/// start refuses, how an emulator replaces the issuer, and what the page and log say. Adding an issuer is one subclass
/// listed in <see cref="All"/>.
/// </summary>
internal abstract class HubProvider
{
    /// <summary>Every provider, the default (<c>WeChat</c>) first.</summary>
    public static readonly IReadOnlyList<HubProvider> All =
    [
        new WeChatHubProvider(),
        new WeChatOpenPlatformHubProvider(),
        new ClientCredentialsHubProvider(),
        PlatformHubProviders.WeCom,
        PlatformHubProviders.Feishu,
        PlatformHubProviders.DingTalk,
        PlatformHubProviders.Douyin,
    ];

    /// <summary>The values <c>TokenHub:Apps:{name}:Provider</c> accepts, for messages.</summary>
    public static string AllowedValues => string.Join(", ", All.Select(p => p.Name));

    /// <summary>The value of <c>TokenHub:Apps:{name}:Provider</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Who issues the app's tokens, as the page and log say it ("WeChat", "an OAuth 2.0 server").</summary>
    public abstract string Issuer { get; }

    /// <summary>Whether the app may keep a JS-SDK ticket (<c>TokenHub:Apps:{name}:JsApiTicket</c>).</summary>
    public virtual bool HasTickets => false;

    /// <summary>Whether the app serves authorizer tokens at <c>GET /tokens/{name}/authorizers/{appid}</c>.</summary>
    public virtual bool HasAuthorizers => false;

    /// <summary>Finds the provider named by <paramref name="value"/>; null or empty is <c>WeChat</c>; unknown is null.</summary>
    public static HubProvider? Find(string? value) => string.IsNullOrWhiteSpace(value)
        ? All[0]
        : All.FirstOrDefault(p => string.Equals(p.Name, value.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>Registers the app's caches (health checks named <c>token:{app}</c>, <c>jsapi_ticket:{app}</c>, …).</summary>
    public abstract void Register(HubAppRegistration app);

    /// <summary>Points the app at an emulator: its token calls go to <paramref name="baseAddress"/> with <paramref name="secret"/>.</summary>
    public abstract void Emulate(IServiceCollection services, string app, Uri baseAddress, string secret);

    /// <summary>
    /// The failures of the app's settings (read from its section, before the provider's own options validate, so that start
    /// names the hub's setting); each names the setting to fix.
    /// </summary>
    public abstract IEnumerable<string> Validate(IConfigurationSection section, string app, bool emulated, bool development);

    /// <summary>The app's token cache (served at <c>GET /tokens/{app}</c>).</summary>
    public abstract IRefreshingCache<AccessToken> Token(IServiceProvider services, string app);

    /// <summary>The app's JS-SDK ticket, when <see cref="HasTickets"/> and the app keeps one.</summary>
    public virtual HubTicket? Ticket(IServiceProvider services, string app) => null;

    /// <summary>The app's authorizer tokens, when <see cref="HasAuthorizers"/>.</summary>
    public virtual IRefreshingCacheSet<string, AccessToken>? Authorizers(IServiceProvider services, string app) => null;

    /// <summary>The identity of the app at its issuer (an AppId, a client id), for the page and log; never a secret.</summary>
    public abstract string Identity(IServiceProvider services, string app);

    /// <summary>Where the app's tokens come from, for the log.</summary>
    public abstract Uri? Endpoint(IServiceProvider services, string app);

    /// <summary>The named HttpClient the app's token calls go through (the quota ledger counts on it).</summary>
    public abstract string HttpClientName(IServiceProvider services, string app);

    /// <summary>Gives the app its own named HttpClient (the ledger's counting handler is on it), unless one is configured.</summary>
    public abstract void UseHttpClient(IServiceCollection services, string app, string httpClientName);

    /// <summary>The issuer's documented quota windows for the app (UPSTREAMS.md), before <c>Quotas</c> is applied.</summary>
    public abstract IReadOnlyList<QuotaWindow> DefaultQuotas(IConfigurationSection section);

    /// <summary>What a request on the app's HttpClient counts as in the ledger (a token call, a forced refresh, nothing).</summary>
    public abstract ValueTask<QuotaCalls> ClassifyAsync(HttpRequestMessage request, CancellationToken cancellationToken);

    /// <summary>
    /// Forces the issuer to replace the app's token (a leaked token); null when the app's issuer has no such call (only a
    /// WeChat stable token has). The provider's own budget errors propagate (WeChat's: 30 s apart, 20 a day).
    /// </summary>
    public virtual Task<AccessToken>? ForceRefreshAsync(IServiceProvider services, string app, CancellationToken cancellationToken) => null;

    /// <summary>Whether the app reads its issuer's own count of today's calls (<c>ReadIssuerQuota</c>; WeChat only).</summary>
    public virtual bool ReadsIssuerQuota(IConfigurationSection section) => false;

    /// <summary>The issuer's own count of the app's token calls today, where the issuer offers one.</summary>
    public virtual Task<IssuerCount?> ReadIssuerQuotaAsync(IServiceProvider services, string app, CancellationToken cancellationToken) =>
        Task.FromResult<IssuerCount?>(null);

    /// <summary>A window that counts token calls and has no documented limit: shown, and limited only when configured.</summary>
    protected static QuotaWindow CountedDay { get; } = new("day", TimeSpan.FromDays(1), QuotaCalls.Token, null);

    /// <summary>Whether <paramref name="request"/> goes to a path that ends with <paramref name="suffix"/>.</summary>
    protected static bool PathEndsWith(HttpRequestMessage request, string suffix) =>
        request.RequestUri?.AbsolutePath.EndsWith(suffix, StringComparison.Ordinal) == true;
}

/// <summary>What a provider needs to register one app: the services, the app's name and section, and Redis when set.</summary>
internal sealed class HubAppRegistration(IServiceCollection services, string name, IConfigurationSection section, string? redis, string redisKeyPrefix, TokenHubRegistry registry)
{
    public IServiceCollection Services { get; } = services;

    public string Name { get; } = name;

    public IConfigurationSection Section { get; } = section;

    public bool Ticket => Section.GetValue<bool>(nameof(TokenHubAppOptions.JsApiTicket));

    /// <summary>Coordinates <paramref name="builder"/> through the hub's Redis, when one is configured.</summary>
    public RefreshingCacheBuilder<T> Coordinate<T>(RefreshingCacheBuilder<T> builder)
    {
        return redis is null ? builder : builder.UseRedisCoordination(Configure);
    }

    /// <summary>Coordinates <paramref name="builder"/> through the hub's Redis, when one is configured.</summary>
    public TBuilder CoordinateGroup<TBuilder>(TBuilder builder)
        where TBuilder : ITokenCacheGroupBuilder
    {
        return redis is null ? builder : builder.UseRedisCoordination(Configure);
    }

    /// <summary>Coordinates <paramref name="builder"/> through the hub's Redis, when one is configured.</summary>
    public RefreshingCacheSetBuilder<TKey, T> Coordinate<TKey, T>(RefreshingCacheSetBuilder<TKey, T> builder)
        where TKey : notnull
    {
        return redis is null ? builder : builder.UseRedisCoordination(Configure);
    }

    /// <summary>Lists <paramref name="healthCheck"/> among the checks the hub's <c>/health</c> reports.</summary>
    public void HealthCheck(string healthCheck) => registry.AddHealthCheck(healthCheck);

    private void Configure(RedisCoordinationOptions options)
    {
        options.Configuration = redis;
        options.KeyPrefix = redisKeyPrefix;
    }
}
