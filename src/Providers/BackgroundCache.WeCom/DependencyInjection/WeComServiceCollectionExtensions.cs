using BackgroundCache;
using BackgroundCache.WeCom;
using BackgroundCache.WeCom.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers WeCom (企业微信) access tokens and JS-SDK tickets.</summary>
public static class WeComServiceCollectionExtensions
{
    /// <summary>
    /// Registers the access token of one WeCom app as a token cache named <paramref name="name"/>, with settings from a
    /// configuration section (<c>CorpId</c>, <c>CorpSecret</c>, <c>AgentId</c>, <c>BaseAddress</c>, <c>HttpClientName</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; each app (each secret) of a corp needs its own name.</param>
    /// <param name="configuration">The section that binds to <see cref="WeComOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddWeComAccessToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WeComOptions>(name).Bind(configuration);
        return services.AddWeComAccessTokenCore(name);
    }

    /// <summary>
    /// Registers the access token of one WeCom app as a token cache named <paramref name="name"/>. Read it as the keyed
    /// <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>. A missing CorpId or CorpSecret fails host start.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; each app (each secret) of a corp needs its own name.</param>
    /// <param name="configure">Configures the app's <see cref="WeComOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddWeComAccessToken(this IServiceCollection services, string name, Action<WeComOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<WeComOptions>(name).Configure(configure);
        return services.AddWeComAccessTokenCore(name);
    }

    /// <summary>
    /// Registers the corp's JS-SDK ticket (<c>get_jsapi_ticket</c>, for <c>wx.config</c>) of the WeCom app registered as
    /// <paramref name="name"/>: a refreshing cache of <see cref="WeComJsApiTicket"/> keyed by the same name, fetched with the
    /// app's current token. Call after <c>AddWeComAccessToken(name, …)</c>.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The app's token cache name.</param>
    /// <returns>The ticket cache's builder.</returns>
    public static RefreshingCacheBuilder<WeComJsApiTicket> AddWeComJsApiTicket(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        return services
            .AddRefreshingCache<WeComJsApiTicket>(name, async (sp, ct) =>
            {
                var (value, expiresAt) = await WeComTicketFetcher.FetchAsync(sp, name, WeComTicketFetcher.CorpTicketPath, ct).ConfigureAwait(false);
                return new WeComJsApiTicket(value, expiresAt);
            })
            .WithExpiry(ticket => ticket.ExpiresAt);
    }

    /// <summary>
    /// Registers the app's JS-SDK ticket (<c>ticket/get?type=agent_config</c>, for <c>wx.agentConfig</c>) of the WeCom app
    /// registered as <paramref name="name"/>: a refreshing cache of <see cref="WeComAgentConfigTicket"/> keyed by the same
    /// name, fetched with the app's current token. Call after <c>AddWeComAccessToken(name, …)</c>.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The app's token cache name.</param>
    /// <returns>The ticket cache's builder.</returns>
    public static RefreshingCacheBuilder<WeComAgentConfigTicket> AddWeComAgentConfigTicket(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        return services
            .AddRefreshingCache<WeComAgentConfigTicket>(name, async (sp, ct) =>
            {
                var (value, expiresAt) = await WeComTicketFetcher.FetchAsync(sp, name, WeComTicketFetcher.AgentTicketPath, ct).ConfigureAwait(false);
                return new WeComAgentConfigTicket(value, expiresAt);
            })
            .WithExpiry(ticket => ticket.ExpiresAt);
    }

    private static RefreshingCacheBuilder<AccessToken> AddWeComAccessTokenCore(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        services.AddWeComCommon();
        services.AddOptions<WeComOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WeComOptions>, WeComOptionsValidator>());
        services.TryAddKeyedSingleton(name, (sp, _) => new WeComAccessTokenSource(name, sp));
        return services.AddTokenCache(name, sp => sp.GetRequiredKeyedService<WeComAccessTokenSource>(name));
    }

    internal static void AddWeComCommon(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient(WeComOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
    }
}
