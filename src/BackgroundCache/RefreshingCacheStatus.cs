namespace BackgroundCache;

/// <summary>
/// An immutable snapshot of a refreshing cache's state, for health checks, status pages and logs.
/// </summary>
public sealed class RefreshingCacheStatus
{
    /// <summary>Gets the cache's name (empty for the unnamed cache of a type).</summary>
    public required string Name { get; init; }

    /// <summary>Gets the cache's state.</summary>
    public required RefreshingCacheState State { get; init; }

    /// <summary>Gets the version of the current value: 0 before the first load, then increasing with each new value.</summary>
    public long Version { get; init; }

    /// <summary>Gets when the current value was fetched, or <see langword="null"/> when none was.</summary>
    public DateTimeOffset? LastRefreshedAt { get; init; }

    /// <summary>Gets when the current value expires, or <see langword="null"/> when it carries no expiry.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Gets when the next refresh (or retry) is due, or <see langword="null"/> when none is scheduled.</summary>
    public DateTimeOffset? NextRefreshAt { get; init; }

    /// <summary>Gets when the last fetch attempt started, or <see langword="null"/> before the first.</summary>
    public DateTimeOffset? LastAttemptAt { get; init; }

    /// <summary>Gets how many fetch attempts in a row have failed.</summary>
    public int ConsecutiveFailures { get; init; }

    /// <summary>Gets the error of the last failed attempt, or <see langword="null"/> after a success.</summary>
    public Exception? LastError { get; init; }

    /// <summary>
    /// Gets how old the current value is at <paramref name="now"/>.
    /// </summary>
    /// <param name="now">The current time, from the same <see cref="TimeProvider"/> as the cache.</param>
    /// <returns>The value's age, or <see langword="null"/> when no value was fetched.</returns>
    public TimeSpan? GetAge(DateTimeOffset now) => LastRefreshedAt is { } at ? now - at : null;
}
