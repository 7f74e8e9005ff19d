using BackgroundCache;
using BackgroundCache.Internal;
using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Optional parts of a refreshing cache set: an expiry selector, a health check, the keys loaded at start.
/// </summary>
public static class RefreshingCacheSetBuilderExtensions
{
    /// <summary>
    /// Tells the set when each value expires: each key's refresh is scheduled
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead of it, and the value is withdrawn at that moment.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="builder">The set builder.</param>
    /// <param name="expiresAt">Returns a value's expiry, or <see langword="null"/> for a value that does not expire.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheSetBuilder<TKey, T> WithExpiry<TKey, T>(this RefreshingCacheSetBuilder<TKey, T> builder, Func<T, DateTimeOffset?> expiresAt)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(expiresAt);
        builder.Registration.ExpirySelector = expiresAt;
        return builder;
    }

    /// <summary>
    /// Loads the set's keys when the host starts (the tenants or authorizers a service already has); each one's first fetch
    /// is queued within the fetch budget. If loading fails, the error is logged, loading is retried with backoff, and keys
    /// read meanwhile are added as they are read.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="builder">The set builder.</param>
    /// <param name="initialKeys">Lists the keys; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheSetBuilder<TKey, T> WithInitialKeys<TKey, T>(
        this RefreshingCacheSetBuilder<TKey, T> builder,
        Func<IServiceProvider, CancellationToken, ValueTask<IEnumerable<TKey>>> initialKeys)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(initialKeys);
        builder.Registration.InitialKeys = initialKeys;
        return builder;
    }

    /// <summary>
    /// Adds a health check for this set, with the count of keys in each state: Healthy while every key is fresh, Degraded
    /// while some keys' refreshes fail, <paramref name="failureStatus"/> (Unhealthy by default) while the upstream fails
    /// every key (the set backs off as a whole) or no key has a usable value.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="builder">The set builder.</param>
    /// <param name="healthCheckName">
    /// The check's name; defaults to <c>backgroundcache-set:{name}:{type}</c> with the value type's name (for example
    /// <c>backgroundcache-set:tenants:TenantConfig</c>).
    /// </param>
    /// <param name="failureStatus">The status reported when the set cannot fetch; defaults to <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks (readiness, liveness).</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheSetBuilder<TKey, T> WithHealthCheck<TKey, T>(
        this RefreshingCacheSetBuilder<TKey, T> builder,
        string? healthCheckName = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        var name = builder.Name;
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckName ?? $"backgroundcache-set:{name}:{TypeNames.Of(typeof(T))}",
            sp => new RefreshingCacheSetHealthCheck<TKey, T>(sp.GetRequiredKeyedService<RefreshingCacheSet<TKey, T>>(name)),
            failureStatus,
            tags));
        return builder;
    }
}
