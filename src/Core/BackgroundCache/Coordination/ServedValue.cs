namespace BackgroundCache.Coordination;

/// <summary>
/// The value an entry serves, with the version and expiry a coordinator compares against the store. Immutable; created by
/// the engine only.
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
public abstract class ServedValue<T>
{
    // Not protected: only the engine's snapshot derives from it, so a value a coordinator sees was published by an entry.
    // Times as UTC ticks: 8 bytes each where a DateTimeOffset takes 16 and a nullable one 24; a set holds one per key (issue #21).
    private const long NoExpiry = long.MinValue;
    private readonly long _fetchedAtTicks;
    private readonly long _expiresAtTicks;

    private protected ServedValue(T value, DateTimeOffset fetchedAt, DateTimeOffset? expiresAt, long version)
    {
        Value = value;
        _fetchedAtTicks = fetchedAt.UtcTicks;
        _expiresAtTicks = expiresAt?.UtcTicks ?? NoExpiry;
        Version = version;
    }

    /// <summary>Gets the value.</summary>
    public T Value { get; }

    /// <summary>Gets when this instance published it (on the cache's <see cref="TimeProvider"/>), in UTC.</summary>
    public DateTimeOffset FetchedAt => new(_fetchedAtTicks, TimeSpan.Zero);

    /// <summary>Gets when it expires (in UTC), or <see langword="null"/> when it does not.</summary>
    public DateTimeOffset? ExpiresAt => _expiresAtTicks == NoExpiry ? null : new DateTimeOffset(_expiresAtTicks, TimeSpan.Zero);

    /// <summary>Gets its version: the store's version for a shared value, a local one otherwise.</summary>
    public long Version { get; }

    /// <summary>
    /// Gets a value indicating whether the upstream returned this value in answer to a report (an invalidation) of the value
    /// before it: the issuer confirmed it, so <see cref="RefreshingCacheOptions.InvalidationCooldown"/> applies to further
    /// reports of it. A value taken from the shared store is never such an answer.
    /// </summary>
    public bool AnswersReport { get; private protected init; }
}
