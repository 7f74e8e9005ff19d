using BackgroundCache;
using BackgroundCache.Feishu;
using BackgroundCache.Feishu.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers Feishu/Lark store apps (商店应用): the pushed <c>app_ticket</c>, the <c>app_access_token</c>, and the tenants'
/// <c>tenant_access_token</c>s.
/// </summary>
public static class FeishuStoreAppServiceCollectionExtensions
{
    /// <summary>
    /// Registers a store app named <paramref name="name"/>, with settings from a configuration section (<c>AppId</c>,
    /// <c>AppSecret</c>, <c>EncryptKey</c>, <c>VerificationToken</c>, <c>BaseAddress</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The app's name.</param>
    /// <param name="configuration">The section that binds to <see cref="FeishuStoreAppOptions"/>.</param>
    /// <returns>The app's builder.</returns>
    public static FeishuStoreAppBuilder AddFeishuStoreApp(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FeishuStoreAppOptions>(name).Bind(configuration);
        return services.AddFeishuStoreAppCore(name);
    }

    /// <summary>
    /// Registers a store app named <paramref name="name"/>: its <c>app_access_token</c> as the keyed
    /// <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>, its tenants' <c>tenant_access_token</c>s as the keyed
    /// <see cref="IRefreshingCacheSet{TKey, T}"/> of <see cref="string"/> (<c>tenant_key</c>) and <see cref="AccessToken"/>,
    /// and the keyed <see cref="FeishuStoreApp"/>, all under <paramref name="name"/>. The <c>app_ticket</c> lives in the
    /// <see cref="BackgroundCache.Stores.IPushedTicketStore"/> (in memory unless another is registered, e.g. Redis's); while
    /// none is stored, fetches fail transiently and Feishu is asked to push one (<c>app_ticket/resend</c>). Map the event URL
    /// with <c>app.MapFeishuEvents(path, name)</c> (package <c>BackgroundCache.Feishu.AspNetCore</c>). Both caches follow
    /// Feishu's 30-minute renewal rule.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The app's name.</param>
    /// <param name="configure">Configures the app's <see cref="FeishuStoreAppOptions"/>.</param>
    /// <returns>The app's builder.</returns>
    public static FeishuStoreAppBuilder AddFeishuStoreApp(this IServiceCollection services, string name, Action<FeishuStoreAppOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FeishuStoreAppOptions>(name).Configure(configure);
        return services.AddFeishuStoreAppCore(name);
    }

    /// <summary>Adds health checks for the store app's <c>app_access_token</c> and its tenant token set.</summary>
    /// <param name="builder">The store app's builder.</param>
    /// <param name="failureStatus">The status reported when a cache has no usable value; defaults to <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static FeishuStoreAppBuilder WithHealthCheck(this FeishuStoreAppBuilder builder, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var list = tags?.ToArray();
        builder.AppAccessToken.WithHealthCheck($"feishu-store-app:{builder.Name}:app-token", failureStatus, list);
        builder.Tenants.WithHealthCheck($"feishu-store-app:{builder.Name}:tenants", failureStatus, list);
        return builder;
    }

    private static FeishuStoreAppBuilder AddFeishuStoreAppCore(this IServiceCollection services, string name)
    {
        services.AddFeishuCommon();
        services.AddOptions<FeishuStoreAppOptions>(name).ValidateOnStart();
        services.AddInMemoryStores();
        services.TryAddKeyedSingleton(name, (sp, _) => new FeishuStoreAppApi(name, sp));
        services.TryAddKeyedSingleton(name, (sp, _) => new FeishuTenantTokenSource(sp.GetRequiredKeyedService<FeishuStoreAppApi>(name)));
        services.TryAddKeyedSingleton(name, (sp, _) => new FeishuStoreApp(
            sp.GetRequiredKeyedService<FeishuStoreAppApi>(name),
            sp.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(name)));
        var appToken = services.AddTokenCache(name, sp => new FeishuStoreAppTokenSource(sp.GetRequiredKeyedService<FeishuStoreAppApi>(name)));
        var tenants = services.AddTokenCacheSet<string, FeishuTenantTokenSource>(name);
        return new FeishuStoreAppBuilder(services, name, appToken, tenants);
    }
}
