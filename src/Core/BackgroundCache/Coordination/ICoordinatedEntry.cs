namespace BackgroundCache.Coordination;

/// <summary>
/// One value as a coordinator sees it: its key in the store, what it serves, and the three things a coordinator may do to
/// it. Thread-safe and non-blocking.
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
public interface ICoordinatedEntry<T>
{
    /// <summary>Gets the entry's key in the store: <c>""</c> for a single cache, the key formatted by <see cref="CoordinationKeys"/> in a set.</summary>
    string CoordinationKey { get; }

    /// <summary>Gets the value the entry serves now, or <see langword="null"/> before its first value.</summary>
    ServedValue<T>? Current { get; }

    /// <summary>Asks the entry for a refresh (another instance asked the leader for one); it runs through <see cref="ICacheCoordinator{T}.RefreshAsync"/>.</summary>
    /// <returns><see langword="false"/> when a refresh is already pending or running, or the entry stopped.</returns>
    bool RequestRefresh();

    /// <summary>Reports the value as refused by the upstream (another instance's report, forwarded to the leader); ignored when the entry serves another value.</summary>
    /// <param name="rejectedValue">The value refused.</param>
    void Invalidate(T rejectedValue);

    /// <summary>
    /// Publishes a value read from the store (not fetched here) with the store's version, and reschedules the entry after it.
    /// Ignored when it has expired, when the entry stopped, or, unless <paramref name="force"/>, when the entry already serves
    /// <paramref name="version"/> or a newer one.
    /// </summary>
    /// <param name="value">The stored value.</param>
    /// <param name="expiresAt">Its expiry (<see cref="ICoordinatedValues{T}.GetExpiresAt"/>), or <see langword="null"/>.</param>
    /// <param name="version">The version the store assigned to it (positive).</param>
    /// <param name="force">Publishes it even over a newer served version: only when the store itself went back (a fail-over, a restore).</param>
    void PublishShared(T value, DateTimeOffset? expiresAt, long version, bool force);
}
