using BackgroundCache;
using BackgroundCache.Coordination;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Attaches a cluster coordinator (<see cref="ICacheCoordinator{T}"/>) to a refreshing cache or a refreshing cache set, so
/// that the instances of an application share its values through a store. Packages such as BackgroundCache.StackExchangeRedis
/// build their <c>Use…Coordination</c> methods on these.
/// </summary>
public static class CacheCoordinationBuilderExtensions
{
    /// <summary>
    /// Coordinates this cache's refreshes through <paramref name="createCoordinator"/>: the engine asks the coordinator for
    /// each refresh instead of calling the upstream itself. Replaces a coordinator attached before.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="builder">The cache builder.</param>
    /// <param name="createCoordinator">Creates the cache's coordinator from the root service provider, once, when the cache
    /// is created. Return an instance that serves this cache only (one coordinator per registration).</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static RefreshingCacheBuilder<T> UseCoordinator<T>(this RefreshingCacheBuilder<T> builder, Func<IServiceProvider, ICacheCoordinator<T>> createCoordinator)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(createCoordinator);
        builder.Registration.Coordinator = createCoordinator;
        return builder;
    }

    /// <summary>
    /// Coordinates this set's refreshes through <paramref name="createCoordinator"/>: the engine asks the coordinator for each
    /// key's refresh, and tells it about keys removed on purpose. Keys reach the coordinator as text
    /// (<see cref="CoordinationKeys"/>). Replaces a coordinator attached before.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="builder">The set builder.</param>
    /// <param name="createCoordinator">Creates the set's coordinator from the root service provider, once, when the set is
    /// created. Return an instance that serves this set only (one coordinator per registration).</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    /// <exception cref="NotSupportedException">Keys of type <typeparamref name="TKey"/> cannot be shared as text
    /// (<see cref="CoordinationKeys.IsSupported{TKey}"/>).</exception>
    public static RefreshingCacheSetBuilder<TKey, T> UseCoordinator<TKey, T>(this RefreshingCacheSetBuilder<TKey, T> builder, Func<IServiceProvider, ICacheCoordinator<T>> createCoordinator)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(createCoordinator);
        if (!CoordinationKeys.IsSupported<TKey>())
        {
            throw new NotSupportedException($"Refreshing cache set '{builder.Name}': keys of type {typeof(TKey).Name} cannot be shared between instances; use string, Guid, an enum or a number.");
        }

        builder.Registration.Coordinator = createCoordinator;
        return builder;
    }
}
