using BackgroundCache.Coordination;

namespace BackgroundCache.Internal;

/// <summary>
/// One published value. Immutable: publishing is one reference swap, reading one volatile read.
/// </summary>
internal sealed class CacheSnapshot<T>(T value, DateTimeOffset fetchedAt, DateTimeOffset? expiresAt, long version)
    : ServedValue<T>(value, fetchedAt, expiresAt, version)
{
    /// <summary>Gets a value indicating whether an attempt asked for by a report (an invalidation) fetched this value.</summary>
    public bool AnswersReport { get; init; }
}
