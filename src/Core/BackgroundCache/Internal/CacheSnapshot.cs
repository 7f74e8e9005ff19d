using BackgroundCache.Coordination;

namespace BackgroundCache.Internal;

/// <summary>
/// One published value. Immutable: publishing is one reference swap, reading one volatile read.
/// </summary>
internal sealed class CacheSnapshot<T>(T value, DateTimeOffset fetchedAt, DateTimeOffset? expiresAt, long version)
    : ServedValue<T>(value, fetchedAt, expiresAt, version)
{
    /// <summary>Sets <see cref="ServedValue{T}.AnswersReport"/> (an attempt asked for by a report fetched this value).</summary>
    public bool AnswersReportInit
    {
        init => AnswersReport = value;
    }
}
