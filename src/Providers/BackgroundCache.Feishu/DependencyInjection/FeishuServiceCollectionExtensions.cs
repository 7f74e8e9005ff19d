using BackgroundCache;
using BackgroundCache.Feishu;
using BackgroundCache.Feishu.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers Feishu/Lark custom app tokens (<c>tenant_access_token</c>, <c>app_access_token</c>) kept fresh in the
/// background under Feishu's 30-minute renewal rule.
/// </summary>
public static class FeishuServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <c>tenant_access_token</c> of one Feishu/Lark custom app as a token cache named <paramref name="name"/>,
    /// with settings from a configuration section (<c>AppId</c>, <c>AppSecret</c>, <c>BaseAddress</c>, <c>HttpClientName</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configuration">The section that binds to <see cref="FeishuOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddFeishuTenantAccessToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FeishuOptions>(name).Bind(configuration);
        return services.AddFeishuTokenCore(name, appToken: false);
    }

    /// <summary>
    /// Registers the <c>tenant_access_token</c> of one Feishu/Lark custom app (<c>POST /open-apis/auth/v3/tenant_access_token/internal</c>)
    /// as a token cache named <paramref name="name"/>. Read it as the keyed <see cref="IRefreshingCache{T}"/> of
    /// <see cref="AccessToken"/>, or attach it with <c>AddFeishuTenantAccessTokenHandler(name)</c>. Feishu hands back the same
    /// token until its last 30 minutes; the source declares that rule, so a <c>RefreshBeforeExpiry</c> longer than 30 minutes
    /// waits for the window instead of fetching the same token again. A missing AppId or AppSecret fails host start.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configure">Configures the app's <see cref="FeishuOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddFeishuTenantAccessToken(this IServiceCollection services, string name, Action<FeishuOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FeishuOptions>(name).Configure(configure);
        return services.AddFeishuTokenCore(name, appToken: false);
    }

    /// <summary>
    /// Registers the <c>app_access_token</c> of one Feishu/Lark custom app (<c>POST /open-apis/auth/v3/app_access_token/internal</c>)
    /// as a token cache named <paramref name="name"/>, with settings from a configuration section. Same rule and builder as
    /// <see cref="AddFeishuTenantAccessToken(IServiceCollection, string, IConfiguration)"/>.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="configuration">The section that binds to <see cref="FeishuOptions"/>.</param>
    /// <returns>The token cache's builder.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddFeishuAppAccessToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FeishuOptions>(name).Bind(configuration);
        return services.AddFeishuTokenCore(name, appToken: true);
    }

    /// <summary>
    /// Registers the <c>app_access_token</c> of one Feishu/Lark custom app as a token cache named <paramref name="name"/>.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="configure">Configures the app's <see cref="FeishuOptions"/>.</param>
    /// <returns>The token cache's builder.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddFeishuAppAccessToken(this IServiceCollection services, string name, Action<FeishuOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FeishuOptions>(name).Configure(configure);
        return services.AddFeishuTokenCore(name, appToken: true);
    }

    internal static void AddFeishuCommon(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FeishuOptions>, FeishuOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FeishuStoreAppOptions>, FeishuOptionsValidator>());
        services.AddHttpClient(FeishuOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
    }

    internal static ILogger CreateFeishuLogger(this IServiceProvider services) =>
        (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("BackgroundCache.Feishu");

    private static RefreshingCacheBuilder<AccessToken> AddFeishuTokenCore(this IServiceCollection services, string name, bool appToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        services.AddFeishuCommon();
        services.AddOptions<FeishuOptions>(name).ValidateOnStart();
        return services.AddTokenCache(name, sp => new FeishuInternalTokenSource(
            name,
            appToken,
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<IOptionsMonitor<FeishuOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.CreateFeishuLogger()));
    }
}
