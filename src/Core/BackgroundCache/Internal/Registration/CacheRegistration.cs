using BackgroundCache.Coordination;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal;

/// <summary>
/// Everything registered for one (type, name) cache; the builder's extensions add to it. Its methods are the factories of
/// the cache's service descriptors, so registering a cache creates no closure (issue #21: bytes per single cache).
/// </summary>
internal sealed class CacheRegistration<T>(string name, int index, Func<IServiceProvider, object?, PeriodicCacheRefresher<T>> createRefresher, object? state)
{
    public string Name { get; } = name;

    /// <summary>Gets the registration's place among its collection's single caches (<see cref="SingleCaches"/>).</summary>
    public int Index { get; } = index;

    public Func<T, DateTimeOffset?>? ExpirySelector { get; set; }

    /// <summary>Gets the factories of the cache's value observers; null until one is added (most caches have none).</summary>
    public List<Func<IServiceProvider, ICacheValueObserver<T>>>? Observers { get; private set; }

    /// <summary>Gets or sets the coordinator that decides who fetches (Redis), or null for a local refresher.</summary>
    public Func<IServiceProvider, ICacheCoordinator<T>>? Coordinator { get; set; }

    /// <summary>Creates the cache's refresher (once per provider, by <see cref="SingleCaches"/>).</summary>
    public PeriodicCacheRefresher<T> CreateRefresher(IServiceProvider services) => createRefresher(services, state);

    /// <summary>Adds the factory of a value observer.</summary>
    public void AddObserver(Func<IServiceProvider, ICacheValueObserver<T>> create) => (Observers ??= []).Add(create);

    /// <summary>The cache in the provider <paramref name="services"/>: the factory of its unkeyed descriptors.</summary>
    public PeriodicCacheRefresher<T> Resolve(IServiceProvider services) => RefreshingCacheServiceCollectionExtensions.Cache(services, this);

    /// <summary>The cache in the provider <paramref name="services"/>: the factory of its keyed descriptors.</summary>
    public PeriodicCacheRefresher<T> ResolveKeyed(IServiceProvider services, object? key) => RefreshingCacheServiceCollectionExtensions.Cache(services, this);
}
