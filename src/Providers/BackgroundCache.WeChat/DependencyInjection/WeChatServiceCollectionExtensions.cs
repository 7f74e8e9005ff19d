using BackgroundCache;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers WeChat access tokens, JS-SDK tickets, and tokens read from a central token hub.
/// </summary>
public static class WeChatServiceCollectionExtensions
{
    /// <summary>In stable mode, refresh inside WeChat's last-5-minute rotation window (earlier calls return the same token).</summary>
    internal static readonly TimeSpan StableRefreshBeforeExpiry = TimeSpan.FromMinutes(4);

    /// <summary>A hub rotates its stable token 4 minutes ahead; its clients refresh after that.</summary>
    internal static readonly TimeSpan HubClientRefreshBeforeExpiry = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Registers the access token of one WeChat app as a token cache named <paramref name="name"/>, with settings from a
    /// configuration section (<c>AppId</c>, <c>AppSecret</c>, <c>BaseAddress</c>, <c>Mode</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configuration">The section that binds to <see cref="WeChatOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddWeChatAccessToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WeChatOptions>(name).Bind(configuration);
        return services.AddWeChatAccessTokenCore(name);
    }

    /// <summary>
    /// Registers the access token of one WeChat app as a token cache named <paramref name="name"/>. Read it as the keyed
    /// <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>; tune its refresh with the
    /// <see cref="RefreshingCacheOptions"/> of the same name (in stable mode the default <c>RefreshBeforeExpiry</c> is
    /// 4 minutes, inside WeChat's rotation window). A missing AppId or AppSecret fails host start.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name; several apps use several names.</param>
    /// <param name="configure">Configures the app's <see cref="WeChatOptions"/>.</param>
    /// <returns>The token cache's builder, so <c>.WithHealthCheck()</c> or Redis coordination can follow.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddWeChatAccessToken(this IServiceCollection services, string name, Action<WeChatOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<WeChatOptions>(name).Configure(configure);
        return services.AddWeChatAccessTokenCore(name);
    }

    /// <summary>
    /// Registers the JS-SDK <c>jsapi_ticket</c> of the WeChat app registered as <paramref name="name"/>: a refreshing cache
    /// of <see cref="WeChatJsApiTicket"/> keyed by the same name, fetched with the app's current access token and refreshed
    /// ahead of its expiry. Call after <see cref="AddWeChatAccessToken(IServiceCollection, string, Action{WeChatOptions})"/>.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The app's token cache name.</param>
    /// <returns>The ticket cache's builder.</returns>
    public static RefreshingCacheBuilder<WeChatJsApiTicket> AddWeChatJsApiTicket(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        return services
            .AddRefreshingCache<WeChatJsApiTicket>(name, (sp, ct) => WeChatJsApiTicketFetcher.FetchAsync(sp, name, ct))
            .WithExpiry(ticket => ticket.ExpiresAt);
    }

    /// <summary>
    /// Registers a token cache named <paramref name="name"/> that reads its token from a central token hub
    /// (<see cref="TokenHubTokenSource"/>) instead of calling WeChat; a token rejected by WeChat is reported to the hub,
    /// which replaces it once for everybody. Use it with <c>AddWeChatAccessTokenHandler(name)</c> on business servers.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The local cache's name (and, unless <see cref="TokenHubOptions.TokenName"/> says otherwise, the hub's).</param>
    /// <param name="configure">Configures the hub's address and API key.</param>
    /// <returns>The token cache's builder.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddTokenHubAccessToken(this IServiceCollection services, string name, Action<TokenHubOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<TokenHubOptions>(name).Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TokenHubOptions>, TokenHubOptionsValidator>());
        services.AddHttpClient(TokenHubOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.Configure<RefreshingCacheOptions>(name, o => o.RefreshBeforeExpiry = HubClientRefreshBeforeExpiry);
        services.TryAddKeyedSingleton(name, (sp, _) => new TokenHubTokenSource(
            name, sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptionsMonitor<TokenHubOptions>>()));
        return services.AddTokenCache(name, sp => sp.GetRequiredKeyedService<TokenHubTokenSource>(name));
    }

    private static RefreshingCacheBuilder<AccessToken> AddWeChatAccessTokenCore(this IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        services.AddOptions<WeChatOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WeChatOptions>, WeChatOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddHttpClient(WeChatOptions.DefaultHttpClientName).ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddSingleton<IConfigureOptions<RefreshingCacheOptions>>(sp => new ConfigureNamedOptions<RefreshingCacheOptions>(name, o =>
        {
            WeChatTokenMode mode;
            try
            {
                mode = sp.GetRequiredService<IOptionsMonitor<WeChatOptions>>().Get(name).Mode;
            }
            catch (OptionsValidationException)
            {
                return; // Reported by the WeChatOptions validation at start, naming the setting.
            }

            if (mode == WeChatTokenMode.StableToken)
            {
                o.RefreshBeforeExpiry = StableRefreshBeforeExpiry;
            }
        }));
        services.TryAddKeyedSingleton(name, (sp, _) => new WeChatAccessTokenSource(name, sp));
        return services.AddTokenCache(name, sp => sp.GetRequiredKeyedService<WeChatAccessTokenSource>(name));
    }
}
