namespace BackgroundCache.Coordination;

/// <summary>The outcome of <see cref="ICacheCoordinator{T}.RefreshAsync"/>: the value the entry publishes.</summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
/// <param name="value">The value: fetched here (the leader) or read from the store.</param>
/// <param name="version">The version the store assigned to it, or <see langword="null"/> when no store version is known
/// (the write's outcome is unknown, or the value was fetched locally during an outage): the entry then gives it a local
/// version, which the store's version replaces when it arrives.</param>
/// <param name="fromUpstream">Whether <paramref name="value"/> came from this instance's upstream call (the entry schedules
/// its next refresh as after a fetch) rather than from the store (scheduled after the leader's).</param>
public readonly struct CoordinatedResult<T>(T value, long? version, bool fromUpstream)
{
    /// <summary>Gets the value.</summary>
    public T Value { get; } = value;

    /// <summary>Gets the version the store assigned to the value, or <see langword="null"/> when none is known.</summary>
    public long? Version { get; } = version;

    /// <summary>Gets a value indicating whether the value came from this instance's upstream call.</summary>
    public bool FromUpstream { get; } = fromUpstream;
}
