using BackgroundCache;
using BackgroundCache.Coordination;
using BackgroundCache.StackExchangeRedis;
using BackgroundCache.StackExchangeRedis.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Coordinates a refreshing cache, or a refreshing cache set, across instances through Redis.
/// </summary>
public static class RedisCoordinationBuilderExtensions
{
    /// <summary>
    /// Makes one instance at a time (the holder of a Redis lease) call the upstream for this cache; every instance reads
    /// the value it stores, applies change notifications, takes a still-valid stored value at start without calling the
    /// upstream, and forwards its <c>Invalidate</c>/<c>RefreshAsync</c> calls to the leader. Adds a health check
    /// <c>backgroundcache-redis:{name}</c> that turns Degraded while Redis is unreachable (for a value other than an
    /// <see cref="AccessToken"/>, <c>{name}:{type}</c> in the health-check name and the Redis keys, so that an app's token
    /// and its JS-SDK ticket never share them).
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="builder">The cache builder.</param>
    /// <param name="configure">Configures the connection, key prefix, lease and outage behaviour.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheBuilder<T> UseRedisCoordination<T>(this RefreshingCacheBuilder<T> builder, Action<RedisCoordinationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var name = builder.Name;

        // A token keeps the name alone; another value type under the same name (the JS-SDK ticket of an app) gets its
        // type appended, so the two never share Redis keys, options or a health check.
        var store = typeof(T) == typeof(AccessToken) ? name : $"{name}:{typeof(T).Name}";
        AddCoordinator<T>(builder.Services, name, store, name, store, configure, $"backgroundcache-redis:{(name.Length == 0 ? typeof(T).Name : store)}");
        return builder.UseCoordinator(sp => sp.GetRequiredKeyedService<RedisCacheCoordinator<T>>(name));
    }

    /// <summary>
    /// Coordinates a refreshing cache set across instances: one leader (the holder of the set's Redis lease) calls the
    /// upstream for every key; each key's value is stored in Redis, so a key that one instance added is taken from Redis by
    /// the others without an upstream call; one channel and one poll per set, so an idle instance's Redis commands do not
    /// grow with the number of keys. <c>RemoveAsync</c> removes the key on every instance. Keys must be strings, GUIDs,
    /// enums or numbers (they are stored as text). Adds a health check <c>backgroundcache-redis-set:{name}</c>.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="builder">The set builder.</param>
    /// <param name="configure">Configures the connection, key prefix, lease and outage behaviour.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheSetBuilder<TKey, T> UseRedisCoordination<TKey, T>(this RefreshingCacheSetBuilder<TKey, T> builder, Action<RedisCoordinationOptions> configure)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        if (!CoordinationKeys.IsSupported<TKey>())
        {
            throw new NotSupportedException($"Refreshing cache set '{builder.Name}': keys of type {typeof(TKey).Name} cannot be shared through Redis; use string, Guid, an enum or a number.");
        }

        var name = builder.Name;
        var serviceKey = "set:" + name;
        var store = typeof(T) == typeof(AccessToken) ? name + ":set" : $"{name}:set:{typeof(T).Name}";
        AddCoordinator<T>(builder.Services, serviceKey, serviceKey + ":" + typeof(T).Name, name, store, configure, $"backgroundcache-redis-set:{(typeof(T) == typeof(AccessToken) ? name : $"{name}:{typeof(T).Name}")}");
        return builder.UseCoordinator(sp => sp.GetRequiredKeyedService<RedisCacheCoordinator<T>>(serviceKey));
    }

    private static void AddCoordinator<T>(IServiceCollection services, string serviceKey, string optionsName, string name, string storeName, Action<RedisCoordinationOptions> configure, string healthCheckName)
    {
        services.AddOptions<RedisCoordinationOptions>(optionsName).Configure(configure)
            .Validate(o => o.LeaseDuration >= TimeSpan.FromMilliseconds(300), "RedisCoordinationOptions.LeaseDuration must be at least 300 ms.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "RedisCoordinationOptions.PollInterval must be greater than zero.")
            .Validate(o => !string.IsNullOrEmpty(o.KeyPrefix), "RedisCoordinationOptions.KeyPrefix must not be empty.")
            .ValidateOnStart();
        services.TryAddSingleton<RedisConnectionProvider>();
        services.TryAddSingleton(sp => new RedisCoordinationMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddKeyedSingleton<RedisCacheCoordinator<T>>(serviceKey, (sp, _) => new RedisCacheCoordinator<T>(
            name,
            sp.GetRequiredService<IOptionsMonitor<RedisCoordinationOptions>>().Get(optionsName),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.StackExchangeRedis"),
            sp.GetRequiredService<RedisConnectionProvider>(),
            sp.GetRequiredService<RedisCoordinationMetrics>(),
            sp.GetService<IRedisValueSerializer<T>>() ?? new SystemTextJsonRedisValueSerializer<T>(),
            storeName));
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckName,
            sp => new RedisCoordinationHealthCheck<T>(sp.GetRequiredKeyedService<RedisCacheCoordinator<T>>(serviceKey)),
            HealthStatus.Degraded,
            null));
    }
}
