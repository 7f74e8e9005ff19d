using BackgroundCache;
using BackgroundCache.Internal;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Optional parts of a refreshing cache: an expiry selector, a mirror into <see cref="IMemoryCache"/>, a health check.
/// </summary>
public static class RefreshingCacheBuilderExtensions
{
    /// <summary>
    /// Tells the cache when each value expires: the refresh is scheduled
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead of it, and the value is withdrawn at that moment.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="builder">The cache builder.</param>
    /// <param name="expiresAt">Returns a value's expiry, or <see langword="null"/> for a value that does not expire.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheBuilder<T> WithExpiry<T>(this RefreshingCacheBuilder<T> builder, Func<T, DateTimeOffset?> expiresAt)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(expiresAt);
        builder.Registration.ExpirySelector = expiresAt;
        return builder;
    }

    /// <summary>
    /// Mirrors each new value into the registered <see cref="IMemoryCache"/> under <paramref name="key"/>, for code that
    /// reads it there. The entry expires with the value and is removed when the value is withdrawn. Requires an
    /// <see cref="IMemoryCache"/> registration (<c>services.AddMemoryCache()</c>).
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="builder">The cache builder.</param>
    /// <param name="key">The memory-cache key.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheBuilder<T> WithMemoryCache<T>(this RefreshingCacheBuilder<T> builder, object key)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(key);
        builder.Registration.AddObserver(sp =>
        {
            var cache = sp.GetService<IMemoryCache>() ?? throw new InvalidOperationException(
                $"WithMemoryCache(\"{key}\") on cache '{builder.Name}' needs an IMemoryCache: call services.AddMemoryCache().");
            return new MemoryCacheMirror<T>(cache, key);
        });
        return builder;
    }

    /// <summary>
    /// Adds a health check for this cache: Healthy while fresh, Degraded while the last good value is served and refreshes
    /// fail, <paramref name="failureStatus"/> (Unhealthy by default) when no usable value exists.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="builder">The cache builder.</param>
    /// <param name="healthCheckName">
    /// The check's name; defaults to <c>backgroundcache:{name}:{type}</c> with the value type's name (for example
    /// <c>backgroundcache:shop-a:AccessToken</c> and <c>backgroundcache:shop-a:WeChatJsApiTicket</c>, so caches of different
    /// types that share a name each get their own check), or <c>backgroundcache:{type}</c> for an unnamed cache.
    /// </param>
    /// <param name="failureStatus">The status reported without a usable value; defaults to <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks (readiness, liveness).</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheBuilder<T> WithHealthCheck<T>(
        this RefreshingCacheBuilder<T> builder,
        string? healthCheckName = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var name = builder.Name;
        var checkName = healthCheckName ?? DefaultHealthCheckName(name, typeof(T));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            checkName,
            sp => new RefreshingCacheHealthCheck<T>(sp.GetRequiredKeyedService<IRefreshingCache<T>>(name), sp.GetRequiredService<TimeProvider>()),
            failureStatus,
            tags));
        return builder;
    }

    /// <summary>The default health-check name: the value type is part of it, as it is part of a cache's identity.</summary>
    internal static string DefaultHealthCheckName(string name, Type valueType) =>
        name.Length == 0 ? $"backgroundcache:{TypeNames.Of(valueType)}" : $"backgroundcache:{name}:{TypeNames.Of(valueType)}";
}
