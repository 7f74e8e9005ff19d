using BackgroundCache.Coordination;

namespace BackgroundCache.Internal;

/// <summary>
/// Everything registered for one (type, name) cache; the builder's extensions add to it.
/// </summary>
internal sealed class CacheRegistration<T>(string name, int index, Func<IServiceProvider, PeriodicCacheRefresher<T>> createRefresher)
{
    public string Name { get; } = name;

    /// <summary>Gets the registration's place among its collection's single caches (<see cref="SingleCaches"/>).</summary>
    public int Index { get; } = index;

    public Func<IServiceProvider, PeriodicCacheRefresher<T>> CreateRefresher { get; } = createRefresher;

    public Func<T, DateTimeOffset?>? ExpirySelector { get; set; }

    public List<Func<IServiceProvider, ICacheValueObserver<T>>> Observers { get; } = [];

    /// <summary>Gets or sets the coordinator that decides who fetches (Redis), or null for a local refresher.</summary>
    public Func<IServiceProvider, ICacheCoordinator<T>>? Coordinator { get; set; }
}
