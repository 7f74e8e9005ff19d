using BackgroundCache.Coordination;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// An entry as its coordinator sees it (<see cref="ICoordinatedEntry{T}"/>). A separate object on purpose: a set hands its
/// entries to readers as <see cref="IRefreshingCache{T}"/>, and a reader must not be able to cast one into a publisher.
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
internal sealed class CoordinatedEntry<T> : ICoordinatedEntry<T>
{
    private readonly CacheEntry<T> _entry;

    private CoordinatedEntry(CacheEntry<T> entry) => _entry = entry;

    public string CoordinationKey => _entry.CoordinationKey;

    public ServedValue<T>? Current => _entry.Current;

    /// <summary>Creates the view of <paramref name="entry"/> once, whichever thread asks first.</summary>
    /// <param name="entry">The entry.</param>
    /// <param name="field">The entry's field that holds its view.</param>
    /// <returns>The view every caller shares.</returns>
    public static CoordinatedEntry<T> Attach(CacheEntry<T> entry, ref CoordinatedEntry<T>? field)
    {
        var created = new CoordinatedEntry<T>(entry);
        return Interlocked.CompareExchange(ref field, created, null) ?? created;
    }

    public bool RequestRefresh() => _entry.RequestRefresh();

    public void Invalidate(T rejectedValue) => _entry.Invalidate(rejectedValue);

    public void PublishShared(T value, DateTimeOffset? expiresAt, long version, bool force) => _entry.PublishShared(value, expiresAt, version, force);
}
