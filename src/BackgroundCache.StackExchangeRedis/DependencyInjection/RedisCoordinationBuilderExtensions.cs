using BackgroundCache;
using BackgroundCache.StackExchangeRedis;
using BackgroundCache.StackExchangeRedis.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Coordinates a refreshing cache across instances through Redis.
/// </summary>
public static class RedisCoordinationBuilderExtensions
{
    /// <summary>
    /// Makes one instance at a time (the holder of a Redis lease) call the upstream for this cache; every instance reads
    /// the value it stores, applies change notifications, takes a still-valid stored value at start without calling the
    /// upstream, and forwards its <c>Invalidate</c>/<c>RefreshAsync</c> calls to the leader. Adds a health check
    /// <c>backgroundcache-redis:{name}</c> that turns Degraded while Redis is unreachable.
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
        var services = builder.Services;
        services.AddOptions<RedisCoordinationOptions>(name).Configure(configure)
            .Validate(o => o.LeaseDuration >= TimeSpan.FromMilliseconds(300), "RedisCoordinationOptions.LeaseDuration must be at least 300 ms.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "RedisCoordinationOptions.PollInterval must be greater than zero.")
            .Validate(o => !string.IsNullOrEmpty(o.KeyPrefix), "RedisCoordinationOptions.KeyPrefix must not be empty.")
            .ValidateOnStart();
        services.TryAddSingleton<RedisConnectionProvider>();
        services.TryAddSingleton(sp => new RedisCoordinationMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddKeyedSingleton<RedisCacheCoordinator<T>>(name, (sp, _) => new RedisCacheCoordinator<T>(
            name,
            sp.GetRequiredService<IOptionsMonitor<RedisCoordinationOptions>>().Get(name),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.StackExchangeRedis"),
            sp.GetRequiredService<RedisConnectionProvider>(),
            sp.GetRequiredService<RedisCoordinationMetrics>(),
            sp.GetService<IRedisValueSerializer<T>>() ?? new SystemTextJsonRedisValueSerializer<T>()));
        builder.Registration.Coordinator = sp => sp.GetRequiredKeyedService<RedisCacheCoordinator<T>>(name);
        services.AddHealthChecks().Add(new HealthCheckRegistration(
            $"backgroundcache-redis:{(name.Length == 0 ? typeof(T).Name : name)}",
            sp => new RedisCoordinationHealthCheck<T>(sp.GetRequiredKeyedService<RedisCacheCoordinator<T>>(name)),
            HealthStatus.Degraded,
            null));
        return builder;
    }
}
