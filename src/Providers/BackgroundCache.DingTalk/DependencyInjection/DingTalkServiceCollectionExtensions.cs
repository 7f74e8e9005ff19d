using BackgroundCache;
using BackgroundCache.DingTalk;
using BackgroundCache.DingTalk.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers DingTalk (钉钉) access tokens.</summary>
public static class DingTalkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the access token of one DingTalk internal app as a token cache named <paramref name="name"/>, with settings
    /// from a configuration section (<c>AppKey</c> or <c>ClientId</c>, <c>AppSecret</c>, <c>Api</c>, <c>BaseAddress</c>,
    /// <c>LegacyBaseAddress</c>, <c>HttpClientName</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configuration">The section that binds to <see cref="DingTalkOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddDingTalkAccessToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DingTalkOptions>(name).Bind(configuration);
        return services.AddDingTalkAccessTokenCore(name);
    }

    /// <summary>
    /// Registers the access token of one DingTalk internal app as a token cache named <paramref name="name"/>. Read it as the
    /// keyed <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>; tune its refresh with the
    /// <see cref="RefreshingCacheOptions"/> of the same name. DingTalk extends a token's life on each fetch
    /// (<see cref="TokenRenewal.ExtendedOnFetch"/>), so one refresh per token life is all it takes. A missing AppKey or
    /// AppSecret fails host start.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configure">Configures the app's <see cref="DingTalkOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddDingTalkAccessToken(this IServiceCollection services, string name, Action<DingTalkOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DingTalkOptions>(name).Configure(configure);
        return services.AddDingTalkAccessTokenCore(name);
    }

    private static RefreshingCacheBuilder<AccessToken> AddDingTalkAccessTokenCore(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        services.AddOptions<DingTalkOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DingTalkOptions>, DingTalkOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient(DingTalkOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        return services.AddTokenCache(name, sp => new DingTalkTokenSource(
            name,
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IOptionsMonitor<DingTalkOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.DingTalk")));
    }
}
