using BackgroundCache;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers WeChat Open Platform third-party platforms: the component token, the authorizer tokens, and the store of the
/// ticket and refresh tokens.
/// </summary>
public static class WeChatOpenPlatformServiceCollectionExtensions
{
    /// <summary>
    /// Registers a third-party platform named <paramref name="name"/>, with settings from a configuration section
    /// (<c>ComponentAppId</c>, <c>ComponentAppSecret</c>, <c>Token</c>, <c>EncodingAESKey</c>, <c>BaseAddress</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The platform's name.</param>
    /// <param name="configuration">The section that binds to <see cref="WeChatOpenPlatformOptions"/>.</param>
    /// <returns>The platform's builder.</returns>
    public static WeChatOpenPlatformBuilder AddWeChatOpenPlatform(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WeChatOpenPlatformOptions>(name).Bind(configuration);
        return services.AddWeChatOpenPlatformCore(name);
    }

    /// <summary>
    /// Registers a third-party platform named <paramref name="name"/>: its <c>component_access_token</c> as the keyed
    /// <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>, its authorizers' <c>authorizer_access_token</c>s as the
    /// keyed <see cref="IRefreshingCacheSet{TKey, T}"/> of <see cref="string"/> (authorizer AppId) and
    /// <see cref="AccessToken"/>, and the keyed <see cref="WeChatOpenPlatform"/>, all under <paramref name="name"/>. The
    /// ticket and refresh tokens live in the <see cref="BackgroundCache.Stores.IPushedTicketStore"/> and
    /// <see cref="BackgroundCache.Stores.IRefreshSecretStore"/> (in memory unless others are registered, e.g. <c>.UseRedisStore(…)</c>);
    /// the authorizers it knows are loaded when the host starts. Map the event URL with
    /// <c>app.MapWeChatOpenPlatformEvents(path, name)</c> (package <c>BackgroundCache.WeChat.AspNetCore</c>). Both caches
    /// take their refresh settings from the <see cref="RefreshingCacheOptions"/> named <paramref name="name"/>, the set its
    /// fetch budget from the <see cref="RefreshingCacheSetOptions"/> of that name.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The platform's name.</param>
    /// <param name="configure">Configures the platform's <see cref="WeChatOpenPlatformOptions"/>.</param>
    /// <returns>The platform's builder.</returns>
    public static WeChatOpenPlatformBuilder AddWeChatOpenPlatform(this IServiceCollection services, string name, Action<WeChatOpenPlatformOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<WeChatOpenPlatformOptions>(name).Configure(configure);
        return services.AddWeChatOpenPlatformCore(name);
    }

    /// <summary>
    /// Adds health checks for the platform's component token and its authorizer set.
    /// </summary>
    /// <param name="builder">The platform's builder.</param>
    /// <param name="failureStatus">The status reported when a cache has no usable value; defaults to <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static WeChatOpenPlatformBuilder WithHealthCheck(this WeChatOpenPlatformBuilder builder, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var list = tags?.ToArray();
        builder.ComponentToken.WithHealthCheck($"wechat-open-platform:{builder.Name}:component", failureStatus, list);
        builder.Authorizers.WithHealthCheck($"wechat-open-platform:{builder.Name}:authorizers", failureStatus, list);
        return builder;
    }

    /// <summary>
    /// Registers the JS-SDK <c>jsapi_ticket</c>s of the platform's authorizers: a refreshing cache set of
    /// <see cref="WeChatJsApiTicket"/> keyed by authorizer AppId, under the platform's name, each fetched with that
    /// authorizer's current token and refreshed ahead of its expiry. A ticket is fetched only for the authorizers read from
    /// it; an authorizer removed from the platform is removed from it too.
    /// </summary>
    /// <param name="builder">The platform's builder.</param>
    /// <param name="configure">Configures the ticket set's <see cref="RefreshingCacheSetOptions"/> (named after the platform).</param>
    /// <returns>The ticket set's builder.</returns>
    public static RefreshingCacheSetBuilder<string, WeChatJsApiTicket> WithAuthorizerJsApiTickets(this WeChatOpenPlatformBuilder builder, Action<RefreshingCacheSetOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var name = builder.Name;
        return builder.Services
            .AddRefreshingCacheSet<string, WeChatJsApiTicket>(name, (sp, key, ct) => AuthorizerJsApiTicketFetcher.FetchAsync(sp, name, key, ct), configure)
            .WithExpiry(ticket => ticket.ExpiresAt);
    }

    private static WeChatOpenPlatformBuilder AddWeChatOpenPlatformCore(this IServiceCollection services, string name)
    {
        services.AddOptions<WeChatOpenPlatformOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WeChatOpenPlatformOptions>, WeChatOpenPlatformOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient(WeChatOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddInMemoryStores();
        services.TryAddSingleton<IWeChatOpenPlatformStore>(sp => new WeChatOpenPlatformStoreView(sp));
        services.TryAddKeyedSingleton(name, (sp, _) =>
        {
            var api = new WeChatComponentApi(name, sp);
            api.CheckStoreRegistration();
            return api;
        });
        services.TryAddKeyedSingleton(name, (sp, _) => new WeChatAuthorizerTokenSource(sp.GetRequiredKeyedService<WeChatComponentApi>(name)));
        services.TryAddKeyedSingleton(name, (sp, _) => new WeChatOpenPlatform(
            sp.GetRequiredKeyedService<WeChatComponentApi>(name),
            sp.GetRequiredKeyedService<WeChatAuthorizerTokenSource>(name)));

        var component = services.AddTokenCache(name, sp => new WeChatComponentTokenSource(sp.GetRequiredKeyedService<WeChatComponentApi>(name)));
        var authorizers = services.AddTokenCacheSet<string, WeChatAuthorizerTokenSource>(name)
            .WithInitialKeys(async (sp, ct) =>
            {
                var api = sp.GetRequiredKeyedService<WeChatComponentApi>(name);
                return await api.Secrets.GetKeysAsync(api.AuthorizersScope, ct).ConfigureAwait(false);
            });
        return new WeChatOpenPlatformBuilder(services, name, component, authorizers);
    }
}
