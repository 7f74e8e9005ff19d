namespace BackgroundCache.Internal;

/// <summary>
/// One published value. Immutable: publishing is one reference swap, reading one volatile read.
/// </summary>
/// <remarks>
/// Times are kept as UTC ticks (8 bytes each instead of 16 for a <see cref="DateTimeOffset"/> and 24 for a nullable one):
/// a set holds one snapshot per key (issue #21). They come back as UTC <see cref="DateTimeOffset"/>s, the same instants.
/// </remarks>
internal sealed class CacheSnapshot<T>(T value, DateTimeOffset fetchedAt, DateTimeOffset? expiresAt, long version)
{
    private const long NoExpiry = long.MinValue;
    private readonly long _fetchedAtTicks = fetchedAt.UtcTicks;
    private readonly long _expiresAtTicks = expiresAt?.UtcTicks ?? NoExpiry;

    public T Value { get; } = value;

    public DateTimeOffset FetchedAt => new(_fetchedAtTicks, TimeSpan.Zero);

    public DateTimeOffset? ExpiresAt => _expiresAtTicks == NoExpiry ? null : new DateTimeOffset(_expiresAtTicks, TimeSpan.Zero);

    public long Version { get; } = version;

    /// <summary>Gets a value indicating whether an attempt asked for by a report (an invalidation) fetched this value.</summary>
    public bool AnswersReport { get; init; }
}
