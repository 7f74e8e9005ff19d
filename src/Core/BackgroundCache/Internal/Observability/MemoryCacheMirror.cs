using Microsoft.Extensions.Caching.Memory;

namespace BackgroundCache.Internal;

/// <summary>
/// Mirrors each published value into <see cref="IMemoryCache"/> under a fixed key, for code that reads it there.
/// </summary>
internal sealed class MemoryCacheMirror<T>(IMemoryCache cache, object key) : ICacheValueObserver<T>
{
    public void OnPublished(CacheSnapshot<T> snapshot, DateTimeOffset? retireAt)
    {
        using var entry = cache.CreateEntry(key);
        entry.Value = snapshot.Value;
        entry.Priority = CacheItemPriority.NeverRemove;
        if (retireAt is { } at)
        {
            entry.AbsoluteExpiration = at;
        }
    }

    public void OnRetired(CacheSnapshot<T> snapshot) => cache.Remove(key);
}
