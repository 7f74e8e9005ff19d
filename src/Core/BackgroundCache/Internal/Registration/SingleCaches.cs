namespace BackgroundCache.Internal;

/// <summary>
/// The single caches one service provider has built, by registration: a cache's hosted service and its keyed services
/// reach it here, by its registration's index, instead of through a keyed lookup of the container each. The container's
/// keyed lookups grow worse than linearly with the number of keyed services (measured: 10,000 / 30,000 / 60,000 keyed
/// singletons resolved once each in 10 / 64 / 408 ms), and starting N caches made N of them (issue #21).
/// </summary>
/// <remarks>
/// One per provider (a singleton), so two providers built from one collection never share a cache. The container still
/// owns each cache: the factories that return one (its hosted service, its keyed services) are the container's, which
/// disposes what they returned.
/// </remarks>
internal sealed class SingleCaches(int count)
{
    private object?[] _caches = new object?[count];

    /// <summary>Gets the cache of <paramref name="registration"/>, created with <paramref name="services"/> the first time.</summary>
    public PeriodicCacheRefresher<T> GetOrCreate<T>(CacheRegistration<T> registration, IServiceProvider services, Func<IServiceProvider, CacheRegistration<T>, PeriodicCacheRefresher<T>> create)
    {
        var caches = Volatile.Read(ref _caches);
        if (registration.Index < caches.Length && Volatile.Read(ref caches[registration.Index]) is PeriodicCacheRefresher<T> cache)
        {
            return cache;
        }

        // One creation per cache, as the container's own singleton lock does: a cache that reads another one at
        // construction creates it on the same thread (the lock is reentrant), and unrelated caches never wait for each other.
        lock (registration)
        {
            caches = Volatile.Read(ref _caches);
            if (registration.Index < caches.Length && caches[registration.Index] is PeriodicCacheRefresher<T> created)
            {
                return created;
            }

            var refresher = create(services, registration);
            lock (this)
            {
                if (registration.Index >= _caches.Length)
                {
                    // Registered after this table was sized (a collection built, then added to): grow it.
                    Array.Resize(ref _caches, Math.Max(registration.Index + 1, _caches.Length * 2));
                }

                Volatile.Write(ref _caches[registration.Index], refresher);
            }

            return refresher;
        }
    }
}
