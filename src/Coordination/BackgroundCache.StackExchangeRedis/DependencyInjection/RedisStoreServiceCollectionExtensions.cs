using BackgroundCache;
using BackgroundCache.StackExchangeRedis;
using BackgroundCache.StackExchangeRedis.Internal;
using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Keeps pushed tickets and refresh secrets (<see cref="IPushedTicketStore"/>, <see cref="IRefreshSecretStore"/>) in Redis,
/// so every instance sees the pushes that landed on one of them and a restart loses nothing. Knows no provider: every
/// registration that keeps durable state (a WeChat third-party platform, …) uses it.
/// </summary>
public static class RedisStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Redis <see cref="IPushedTicketStore"/> and <see cref="IRefreshSecretStore"/> (replacing the in-memory
    /// default whether called before or after the provider's registration). Refresh secrets are secrets: use a Redis with
    /// authentication and TLS that only the application's servers reach.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="configure">Configures the connection and the key prefix.</param>
    /// <returns>The <see cref="IServiceCollection"/> so that additional calls can be chained.</returns>
    public static IServiceCollection AddRedisStore(this IServiceCollection services, Action<RedisStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        services.RemoveAll<IPushedTicketStore>();
        services.RemoveAll<IRefreshSecretStore>();
        services.TryAddSingleton(sp => new RedisStore(sp));
        services.AddSingleton<IPushedTicketStore>(sp => sp.GetRequiredService<RedisStore>());
        services.AddSingleton<IRefreshSecretStore>(sp => sp.GetRequiredService<RedisStore>());
        return services;
    }

    /// <summary>
    /// Keeps the registration's pushed tickets and refresh secrets in Redis (see
    /// <see cref="AddRedisStore(IServiceCollection, Action{RedisStoreOptions})"/>); the store is shared by every
    /// registration of the application.
    /// </summary>
    /// <typeparam name="TBuilder">The registration's builder, e.g. a WeChat third-party platform's.</typeparam>
    /// <param name="builder">The registration's builder.</param>
    /// <param name="configure">Configures the connection and the key prefix.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static TBuilder UseRedisStore<TBuilder>(this TBuilder builder, Action<RedisStoreOptions> configure)
        where TBuilder : ITokenCacheGroupBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddRedisStore(configure);
        return builder;
    }

    /// <summary>
    /// Makes a registration that holds several token caches (a WeChat third-party platform: component token and authorizer
    /// tokens) safe to run on several instances: its durable state is kept in Redis (<see cref="UseRedisStore{TBuilder}"/>,
    /// same connection settings and key prefix), and each of its caches and sets is refreshed by one instance at a time and
    /// shared (<see cref="RedisCoordinationBuilderExtensions.UseRedisCoordination{T}"/>; a key added or removed on one
    /// instance is added or removed on all, and only a set's leader spends refresh secrets).
    /// </summary>
    /// <typeparam name="TBuilder">The registration's builder.</typeparam>
    /// <param name="builder">The registration's builder.</param>
    /// <param name="configure">Configures the connection, key prefix and lease.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static TBuilder UseRedisCoordination<TBuilder>(this TBuilder builder, Action<RedisCoordinationOptions> configure)
        where TBuilder : ITokenCacheGroupBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        foreach (var cache in builder.TokenCaches)
        {
            cache.UseRedisCoordination(configure);
        }

        foreach (var set in builder.TokenSets)
        {
            set.UseRedisCoordination(configure);
        }

        builder.Services.AddRedisStore(store =>
        {
            var coordination = new RedisCoordinationOptions();
            configure(coordination);
            store.Configuration = coordination.Configuration;
            store.ConfigurationOptions = coordination.ConfigurationOptions;
            store.ConnectionMultiplexerFactory = coordination.ConnectionMultiplexerFactory;
            store.KeyPrefix = coordination.KeyPrefix;
        });
        return builder;
    }
}
