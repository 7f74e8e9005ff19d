namespace BackgroundCache.Internal;

/// <summary>
/// Receives each value a refresher publishes and each value it withdraws (a mirror into <c>IMemoryCache</c>, a shared store).
/// </summary>
internal interface ICacheValueObserver<T>
{
    void OnPublished(CacheSnapshot<T> snapshot, DateTimeOffset? retireAt);

    void OnRetired(CacheSnapshot<T> snapshot);
}
