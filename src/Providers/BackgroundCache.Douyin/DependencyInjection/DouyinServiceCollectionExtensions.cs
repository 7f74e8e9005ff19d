using BackgroundCache;
using BackgroundCache.Douyin;
using BackgroundCache.Douyin.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Douyin (抖音) Open Platform client tokens.</summary>
public static class DouyinServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>client_token</c> of one Douyin app as a token cache named <paramref name="name"/>, with settings from
    /// a configuration section (<c>ClientKey</c>, <c>ClientSecret</c>, <c>Stable</c>, <c>BaseAddress</c>, <c>HttpClientName</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configuration">The section that binds to <see cref="DouyinOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddDouyinClientToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DouyinOptions>(name).Bind(configuration);
        return services.AddDouyinClientTokenCore(name);
    }

    /// <summary>
    /// Registers the <c>client_token</c> of one Douyin app as a token cache named <paramref name="name"/>. Read it as the
    /// keyed <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>. With <see cref="DouyinOptions.Stable"/> off,
    /// each fetch replaces the previous token (which dies 5 minutes later; only the latest two live), so several instances
    /// must share one refresher: add <c>.UseRedisCoordination(…)</c>. With it on, the token is refreshed when it expires
    /// (the default <c>RefreshBeforeExpiry</c> and <c>Jitter</c> are then zero: Douyin hands out the same token until then). A missing
    /// ClientKey or ClientSecret fails host start.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configure">Configures the app's <see cref="DouyinOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddDouyinClientToken(this IServiceCollection services, string name, Action<DouyinOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DouyinOptions>(name).Configure(configure);
        return services.AddDouyinClientTokenCore(name);
    }

    private static RefreshingCacheBuilder<AccessToken> AddDouyinClientTokenCore(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        services.AddOptions<DouyinOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DouyinOptions>, DouyinOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient(DouyinOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<IConfigureOptions<RefreshingCacheOptions>>(sp => new ConfigureNamedOptions<RefreshingCacheOptions>(name, o =>
        {
            bool stable;
            try
            {
                stable = sp.GetRequiredService<IOptionsMonitor<DouyinOptions>>().Get(name).Stable;
            }
            catch (OptionsValidationException)
            {
                return; // Reported by the DouyinOptions validation at start, naming the setting.
            }

            if (stable)
            {
                // Douyin hands out the same stable token until it expires: a refresh any earlier (a lead, or jitter
                // pulling it forward) brings back the token already held.
                o.RefreshBeforeExpiry = TimeSpan.Zero;
                o.Jitter = TimeSpan.Zero;
            }
        }));
        return services.AddTokenCache(name, sp => new DouyinTokenSource(
            name,
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IOptionsMonitor<DouyinOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.Douyin")));
    }
}
