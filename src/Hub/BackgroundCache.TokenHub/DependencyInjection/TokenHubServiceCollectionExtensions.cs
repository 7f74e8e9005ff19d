using System.Threading.RateLimiting;
using BackgroundCache;
using BackgroundCache.TokenHub;
using BackgroundCache.TokenHub.Internal;
using BackgroundCache.TokenHub.Internal.Providers;
using BackgroundCache.TokenHub.Internal.Quota;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Adds the token hub (WeChat's "central control server") to an ASP.NET Core app; map its endpoints with <c>MapTokenHub</c>.
/// </summary>
public static class TokenHubServiceCollectionExtensions
{
    /// <summary>
    /// Adds the token hub configured by <paramref name="configuration"/> (usually <c>Configuration.GetSection("TokenHub")</c>,
    /// bound to <see cref="TokenHubServerOptions"/>): a refreshing token per app of <c>Apps</c> from the app's <c>Provider</c> (WeChat, WeChatOpenPlatform,
    /// ClientCredentials; a WeChat app's JS-SDK ticket when asked), each with a health check; the API-key authentication scheme and the per-app
    /// authorization policies of <c>Clients</c>; the per-client invalidation limit; and, when <c>Redis</c> is set, Redis
    /// coordination of every app's token. The apps are read now; everything is validated when the host starts.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="configuration">The hub's configuration section.</param>
    /// <returns>A <see cref="TokenHubBuilder"/> for optional further configuration.</returns>
    /// <exception cref="InvalidOperationException">The hub was already added to <paramref name="services"/>.</exception>
    public static TokenHubBuilder AddTokenHub(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        if (services.Any(d => d.ServiceType == typeof(TokenHubRegistry)))
        {
            throw new InvalidOperationException("AddTokenHub was already called on these services: one app hosts one token hub.");
        }

        var snapshot = configuration.Get<TokenHubServerOptions>() ?? new TokenHubServerOptions();
        var redis = string.IsNullOrWhiteSpace(snapshot.Redis) ? null : snapshot.Redis;
        var registry = new TokenHubRegistry(
            snapshot.Apps.Select(a => (a.Key, a.Value.Provider, a.Value.JsApiTicket)),
            redis is not null,
            configuration.GetSection("ApiKeys").GetChildren().Any());
        services.AddSingleton(registry);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<TokenHubServerOptions>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<TokenHubServerOptions>, DevelopmentClientSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TokenHubServerOptions>, TokenHubOptionsValidator>());
        services.TryAddSingleton<ClientKeyTable>();
        services.TryAddSingleton<TokenHubCaches>();
        services.TryAddSingleton<TokenAnswerCache>();
        services.TryAddSingleton<RefreshTimeline>();
        services.TryAddSingleton(sp => new TokenHubMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<IQuotaStore>(sp => redis is null
            ? new MemoryQuotaStore()
            : new RedisQuotaStore(redis, snapshot.RedisKeyPrefix));
        services.TryAddSingleton<IssuerQuota>();
        services.TryAddSingleton(sp => new QuotaLedger(
            registry.AppNames.ToDictionary(n => n, registry.Quotas),
            sp.GetRequiredService<IQuotaStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<TokenHubMetrics>().Meter));
        services.TryAddSingleton(sp =>
        {
            var hub = sp.GetRequiredService<IOptions<TokenHubServerOptions>>().Value;
            PartitionedRateLimiter<string> Limiter(int permits) => PartitionedRateLimiter.Create<string, string>(partition => RateLimitPartition.GetFixedWindowLimiter(
                partition,
                _ => new FixedWindowRateLimiterOptions { PermitLimit = permits, Window = hub.InvalidationWindow, QueueLimit = 0 }));
            return new InvalidationLimiter(
                Limiter(hub.InvalidationPermitLimit),
                Limiter(hub.InvalidationPermitLimitPerApp),
                sp.GetRequiredService<TimeProvider>(),
                hub.InvalidationWindow);
        });

        services.TryAddSingleton(sp =>
        {
            var hub = sp.GetRequiredService<IOptions<TokenHubServerOptions>>().Value;
            return new SignatureLimiter(PartitionedRateLimiter.Create<string, string>(partition => RateLimitPartition.GetFixedWindowLimiter(
                partition,
                _ => new FixedWindowRateLimiterOptions { PermitLimit = hub.SignaturePermitLimit, Window = hub.SignatureWindow, QueueLimit = 0 })));
        });

        // Registered before the caches, so the timeline listens before their first fetch.
        services.AddHostedService<TokenHubService>();

        // MapTokenHub maps /health whatever the apps; with none (Development only: start refuses elsewhere) one check says so.
        var health = services.AddHealthChecks();
        if (registry.AppNames.Count == 0)
        {
            health.AddCheck(TokenHubRegistry.NoAppHealthCheckName, () => HealthCheckResult.Unhealthy(TokenHubRegistry.NoAppMessage));
        }

        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorization(TokenHubPolicies.Add);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, AppAccessHandler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAuthorizationHandler, StatusAccessHandler>());

        foreach (var name in registry.AppNames)
        {
            // Each provider binds the app's section as its own options section, so an app takes its provider's keys.
            var app = configuration.GetSection($"Apps:{name}");
            registry.SetSection(name, app);
            var provider = registry.Provider(name);
            provider.Register(new HubAppRegistration(services, name, app, redis, snapshot.RedisKeyPrefix, registry));
            services.AddOptions<RefreshingCacheOptions>(name).Bind(app.GetSection("Cache"));

            // The ledger counts on the app's own HttpClient (a configured HttpClientName is kept: it must then be the app's alone).
            var httpClientName = app["HttpClientName"] is { Length: > 0 } configured ? configured : "BackgroundCache.TokenHub." + name;
            if (app["HttpClientName"] is not { Length: > 0 })
            {
                provider.UseHttpClient(services, name, httpClientName);
            }

            services.AddHttpClient(httpClientName)
                .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan) // the engine bounds each fetch itself
                .AddHttpMessageHandler(sp => new QuotaCountingHandler(sp.GetRequiredService<QuotaLedger>(), provider, name));
            registry.SetQuotas(name, QuotaWindow.Apply(provider.DefaultQuotas(app), app.GetSection("Quotas")));
            health.AddCheck<QuotaHealthCheck>($"quota:{name}", tags: [name]);
            registry.AddHealthCheck($"quota:{name}");
        }

        return new TokenHubBuilder(services, registry);
    }
}
