namespace BackgroundCache;

/// <summary>
/// Implemented by exceptions that a fetch throws to tell the refresher how to retry.
/// </summary>
/// <remarks>
/// Without advice every failure is transient: retries back off exponentially from
/// <see cref="RefreshingCacheOptions.RetryInitialDelay"/> to <see cref="RefreshingCacheOptions.RetryMaxDelay"/>.
/// </remarks>
public interface IRefreshRetryAdvice
{
    /// <summary>
    /// Gets a value indicating whether a quick retry can succeed. When <see langword="false"/> (a bad secret, a missing
    /// permission) the refresher waits the full <see cref="RefreshingCacheOptions.RetryMaxDelay"/> before the next attempt.
    /// </summary>
    bool IsTransient { get; }

    /// <summary>
    /// Gets the least time to wait before calling the upstream again (a quota that resets later), or
    /// <see langword="null"/>. Until it has passed, on-demand refreshes fail at once with this error instead of
    /// calling the upstream.
    /// </summary>
    TimeSpan? RetryAfter { get; }
}
