namespace BackgroundCache.Internal;

/// <summary>
/// A seam for cluster coordination (the Redis package): it may hand the refresher a value that another instance
/// fetched, and it decides whether this instance may call the upstream.
/// </summary>
internal interface ICacheCoordinator<T> : IDisposable
{
    /// <summary>Called once at start, before the first fetch; may publish a shared value.</summary>
    ValueTask StartAsync(ICoordinatedCache<T> cache, CancellationToken cancellationToken);

    /// <summary>Called once at stop, after the refresher's loop ended (releases what it holds).</summary>
    ValueTask StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs one refresh: either calls <paramref name="fetch"/> (this instance leads) or obtains the shared value.
    /// Returns the value and its expiry, and whether the value came from the upstream.
    /// </summary>
    /// <param name="fetch">Calls the upstream.</param>
    /// <param name="forced">The refresh was requested (RefreshAsync, Invalidate), not scheduled.</param>
    /// <param name="rejected">The value an invalidation rejected, if any.</param>
    /// <param name="decidedOnVersion">The version the cache served when this refresh was decided: a newer one satisfies it.</param>
    /// <param name="cancellationToken">Cancelled on fetch timeout or stop.</param>
    ValueTask<CoordinatedResult<T>> RefreshAsync(Func<CancellationToken, ValueTask<T>> fetch, bool forced, T? rejected, long decidedOnVersion, CancellationToken cancellationToken);
}

/// <summary>What a coordinator can do to the cache it serves.</summary>
internal interface ICoordinatedCache<T> : IRefreshingCache<T>
{
    string Name { get; }

    /// <summary>Gets the cache's options.</summary>
    RefreshingCacheOptions Options { get; }

    /// <summary>Asks the refresher's loop for a refresh; returns false when one is already pending or running.</summary>
    bool RequestRefresh();

    /// <summary>Publishes a value obtained from the shared store (not from the upstream).</summary>
    void PublishShared(T value, DateTimeOffset? expiresAt, long version);

    DateTimeOffset? GetExpiresAt(T value);
}

internal readonly record struct CoordinatedResult<T>(T Value, long? Version, bool FromUpstream);
