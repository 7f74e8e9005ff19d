using BackgroundCache;
using BackgroundCache.OAuth;
using BackgroundCache.OAuth.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers OAuth 2.0 client credentials tokens (RFC 6749 §4.4) kept fresh in the background: one per name, or one per
/// key (tenant, audience) in a set.
/// </summary>
public static class ClientCredentialsServiceCollectionExtensions
{
    /// <summary>
    /// Registers a client credentials token named <paramref name="name"/>. Read it as the keyed
    /// <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>, or attach it to an <see cref="HttpClient"/> with
    /// <c>AddClientCredentialsTokenHandler(name)</c>; tune its schedule with the <see cref="RefreshingCacheOptions"/> of the
    /// same name. The options are validated when the host starts.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The token's name.</param>
    /// <param name="configure">Sets the <see cref="ClientCredentialsOptions"/>.</param>
    /// <returns>The cache builder, so that <c>.WithHealthCheck()</c>, <c>.UseRedisCoordination(…)</c> and the rest chain.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddClientCredentialsToken(this IServiceCollection services, string name, Action<ClientCredentialsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<ClientCredentialsOptions>(name).Configure(configure);
        return services.AddClientCredentialsTokenCore(name);
    }

    /// <summary>
    /// Registers a client credentials token named <paramref name="name"/> with options bound from
    /// <paramref name="configuration"/> (keys <c>TokenEndpoint</c> or <c>Authority</c>, <c>ClientId</c>, <c>ClientSecret</c>,
    /// <c>Scope</c>, <c>Resource</c>, <c>Parameters</c>, <c>ClientAuthentication</c>, <c>PrivateKey</c>, …).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The token's name.</param>
    /// <param name="configuration">The configuration section holding the <see cref="ClientCredentialsOptions"/>.</param>
    /// <returns>The cache builder, so that <c>.WithHealthCheck()</c>, <c>.UseRedisCoordination(…)</c> and the rest chain.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddClientCredentialsToken(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ClientCredentialsOptions>(name).Bind(configuration);
        return services.AddClientCredentialsTokenCore(name);
    }

    /// <summary>
    /// Registers a set of client credentials tokens named <paramref name="name"/>, one per key (a tenant, an audience), all
    /// refreshed by one scheduler. The set's <see cref="ClientCredentialsOptions"/> (<paramref name="configure"/>) hold what
    /// keys share; <paramref name="configureKey"/> adjusts a copy of them for each key (its <c>Scope</c>,
    /// <c>Resource</c>, <c>Parameters</c>, or its own <c>ClientId</c> and secret). Each key's options are validated at its
    /// first fetch: a wrong one fails that key at once, naming the setting and the key. Read the tokens as the keyed
    /// <see cref="IRefreshingCacheSet{TKey, T}"/> of <see cref="AccessToken"/>.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The set's name.</param>
    /// <param name="configure">Sets the options the keys share.</param>
    /// <param name="configureKey">Adjusts the options for one key.</param>
    /// <param name="configureSet">Configures the set's <see cref="RefreshingCacheSetOptions"/>.</param>
    /// <returns>The set builder, so that <c>.WithHealthCheck()</c>, <c>.WithInitialKeys(…)</c> and the rest chain.</returns>
    public static RefreshingCacheSetBuilder<TKey, AccessToken> AddClientCredentialsTokenSet<TKey>(
        this IServiceCollection services,
        string name,
        Action<ClientCredentialsOptions> configure,
        Action<TKey, ClientCredentialsOptions> configureKey,
        Action<RefreshingCacheSetOptions>? configureSet = null)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(configureKey);
        services.AddOptions<ClientCredentialsOptions>(name).Configure(configure);
        services.AddOAuthClient();
        services.TryAddKeyedSingleton(name, (sp, _) => new ClientCredentialsTokenSetSource<TKey>(
            name,
            sp.GetRequiredService<OAuthTokenClient>(),
            sp.GetRequiredService<IOptionsMonitor<ClientCredentialsOptions>>(),
            configureKey));
        return services.AddTokenCacheSet<TKey, ClientCredentialsTokenSetSource<TKey>>(name, configureSet);
    }

    private static RefreshingCacheBuilder<AccessToken> AddClientCredentialsTokenCore(this IServiceCollection services, string name)
    {
        services.AddOAuthClient();
        services.AddSingleton<IValidateOptions<ClientCredentialsOptions>>(new ClientCredentialsOptionsValidator(name));
        services.AddOptions<ClientCredentialsOptions>(name).ValidateOnStart();
        return services.AddTokenCache(name, sp => new ClientCredentialsTokenSource(
            name,
            sp.GetRequiredService<OAuthTokenClient>(),
            sp.GetRequiredService<IOptionsMonitor<ClientCredentialsOptions>>()));
    }

    private static void AddOAuthClient(this IServiceCollection services)
    {
        services.AddHttpClient();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new OAuthTokenClient(
            sp.GetRequiredService<IHttpClientFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance));
    }
}
