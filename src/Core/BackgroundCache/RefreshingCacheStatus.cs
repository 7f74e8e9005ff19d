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

    /// <summary>
    /// Gets the version of the current value: 0 before the first load, then increasing with each new value. A refresh
    /// that fetches a value equal to the one served (by the value type's equality; an <see cref="AccessToken"/> by its
    /// <see cref="AccessToken.Value"/>, e.g. a stable token its issuer confirmed) keeps the version. A cache coordinated
    /// through Redis shows the version Redis assigned, the same on every instance.
    /// </summary>
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
    /// Gets a value indicating whether the next refresh waits for the issuer's renewal window: the token source declared
    /// <see cref="TokenRenewal.SameUntilWindow(TimeSpan)"/> and <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> is
    /// longer than the window, so <see cref="NextRefreshAt"/> lies just inside the window (a fetch any earlier would bring back
    /// the token already held) rather than <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead of the expiry.
    /// </summary>
    public bool WaitingForRenewalWindow { get; init; }

    /// <summary>
    /// Gets how old the current value is at <paramref name="now"/>.
    /// </summary>
    /// <param name="now">The current time, from the same <see cref="TimeProvider"/> as the cache.</param>
    /// <returns>The value's age, or <see langword="null"/> when no value was fetched.</returns>
    public TimeSpan? GetAge(DateTimeOffset now) => LastRefreshedAt is { } at ? now - at : null;

    /// <summary>
    /// Describes the status in one line for logs and consoles, e.g.
    /// <c>rates: Fresh, version 3, refreshed 2026-11-26T08:00:00Z, expires 2026-11-26T10:00:00Z, next refresh 2026-11-26T09:55:00Z</c>;
    /// a failing cache adds its failure count and the error's type and message (never a value: the status holds none).
    /// </summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder();
        text.Append(Name.Length == 0 ? "(default)" : Name).Append(": ").Append(State);
        if (Version > 0)
        {
            text.Append(", version ").Append(Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        Append(text, "refreshed", LastRefreshedAt);
        Append(text, "expires", ExpiresAt);
        Append(text, "next refresh", NextRefreshAt);
        if (WaitingForRenewalWindow)
        {
            text.Append(" (waiting for the issuer's renewal window)");
        }

        if (ConsecutiveFailures > 0)
        {
            text.Append(", ").Append(ConsecutiveFailures.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .Append(ConsecutiveFailures == 1 ? " failure" : " failures in a row");
        }

        if (LastError is { } error)
        {
            text.Append(", last error ").Append(error.GetType().Name).Append(": ").Append(error.Message);
        }

        return text.ToString();

        static void Append(System.Text.StringBuilder text, string label, DateTimeOffset? at)
        {
            if (at is { } value)
            {
                text.Append(", ").Append(label).Append(' ').Append(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }
}
