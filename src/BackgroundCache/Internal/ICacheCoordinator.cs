using BackgroundCache.Internal.Engine;

namespace BackgroundCache.Internal;

/// <summary>
/// A seam for cluster coordination (the Redis package): it may hand an entry a value that another instance fetched, and it
/// decides whether this instance may call the upstream. One coordinator serves one registration: a single cache (one
/// entry, key <c>""</c>) or a set (one entry per key).
/// </summary>
/// <remarks>
/// Timing model: the upstream call passed as <c>fetch</c> is bounded by <see cref="RefreshingCacheOptions.FetchTimeout"/>
/// on the cache's <see cref="TimeProvider"/>; everything the coordinator waits for in Redis (the lease, another instance's
/// answer) is measured in real time, because Redis measures its lease in real time.
/// </remarks>
internal interface ICacheCoordinator<T> : IDisposable
{
    /// <summary>Called once at start, before the first fetch; may publish shared values.</summary>
    ValueTask StartAsync(ICoordinatedValues<T> values, CancellationToken cancellationToken);

    /// <summary>Called once at stop, after the entries stopped (releases what it holds).</summary>
    ValueTask StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs one refresh of <paramref name="entry"/>: either calls <paramref name="fetch"/> (this instance leads) or obtains
    /// the shared value. Returns the value, its shared version, and whether it came from the upstream.
    /// </summary>
    /// <param name="entry">The entry refreshed.</param>
    /// <param name="fetch">Calls the upstream (already bounded by FetchTimeout).</param>
    /// <param name="forced">The refresh was requested (RefreshAsync, Invalidate), not scheduled.</param>
    /// <param name="rejected">The value an invalidation rejected, if any.</param>
    /// <param name="decidedOnVersion">The version the entry served when this refresh was decided: a newer one satisfies it.</param>
    /// <param name="cancellationToken">Cancelled on stop.</param>
    ValueTask<CoordinatedResult<T>> RefreshAsync(ICoordinatedEntry<T> entry, Func<CancellationToken, ValueTask<T>> fetch, bool forced, T? rejected, long decidedOnVersion, CancellationToken cancellationToken);

    /// <summary>The key was removed on purpose (a set's <c>RemoveAsync</c>): removes it for every instance.</summary>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken);
}

/// <summary>What a coordinator serves: one cache or one set.</summary>
internal interface ICoordinatedValues<T>
{
    string Name { get; }

    /// <summary>Gets the options of the values.</summary>
    RefreshingCacheOptions Options { get; }

    /// <summary>Gets the entries held now.</summary>
    IEnumerable<ICoordinatedEntry<T>> Entries { get; }

    DateTimeOffset? GetExpiresAt(T value);

    /// <summary>Finds the entry of a key, or null.</summary>
    ICoordinatedEntry<T>? Find(string key);

    /// <summary>Gets or adds the entry of a key (another instance asked for it); null when this registration cannot hold it.</summary>
    ICoordinatedEntry<T>? GetOrAdd(string key);

    /// <summary>Removes a key here only (another instance removed it on purpose).</summary>
    void RemoveLocal(string key);
}

/// <summary>What a coordinator can do to one entry.</summary>
internal interface ICoordinatedEntry<T>
{
    /// <summary>Gets the key of the entry in the shared store (<c>""</c> for a single cache).</summary>
    string CoordinationKey { get; }

    /// <summary>Gets the published snapshot, or null.</summary>
    CacheSnapshot<T>? Current { get; }

    /// <summary>Asks for a refresh (a forwarded request); returns false when one is already pending or running.</summary>
    bool RequestRefresh();

    /// <summary>Reports the value as rejected upstream (a forwarded invalidation).</summary>
    void Invalidate(T rejectedValue);

    /// <summary>
    /// Publishes a value obtained from the shared store (not from the upstream), unless the entry already serves a newer
    /// shared version; <paramref name="force"/> publishes it whatever its version (the store is the reference).
    /// </summary>
    void PublishShared(T value, DateTimeOffset? expiresAt, long version, bool force);
}

internal readonly record struct CoordinatedResult<T>(T Value, long? Version, bool FromUpstream);
