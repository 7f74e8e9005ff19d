namespace BackgroundCache.Internal;

/// <summary>
/// One published value. Immutable: publishing is one reference swap, reading one volatile read.
/// </summary>
internal sealed class CacheSnapshot<T>(T value, DateTimeOffset fetchedAt, DateTimeOffset? expiresAt, long version)
{
    public T Value { get; } = value;

    public DateTimeOffset FetchedAt { get; } = fetchedAt;

    public DateTimeOffset? ExpiresAt { get; } = expiresAt;

    public long Version { get; } = version;

    /// <summary>Gets a value indicating whether an attempt asked for by a report (an invalidation) fetched this value.</summary>
    public bool AnswersReport { get; init; }
}
