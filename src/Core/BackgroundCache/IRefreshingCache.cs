using System.Diagnostics.CodeAnalysis;

namespace BackgroundCache;

/// <summary>
/// Reads a value that a background refresher keeps fresh.
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
public interface IRefreshingCache<T>
{
    /// <summary>
    /// Gets the current value without blocking and without allocating.
    /// </summary>
    /// <param name="value">The current value, when one is usable.</param>
    /// <returns><see langword="true"/> when a usable value exists; <see langword="false"/> before the first load
    /// or after the value expired while refreshes kept failing.</returns>
    bool TryGetValue([MaybeNullWhen(false)] out T value);

    /// <summary>
    /// Gets the current value; waits only for the first load.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for the first load.</param>
    /// <returns>The current value.</returns>
    /// <exception cref="CacheValueUnavailableException">No usable value exists: it did not load within
    /// <see cref="RefreshingCacheOptions.InitialLoadTimeout"/>, it expired while refreshes kept failing, or the cache stopped.</exception>
    ValueTask<T> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Forces a refresh now. Concurrent calls, and calls made while a refresh runs, share one upstream fetch.
    /// </summary>
    /// <param name="cancellationToken">Cancels this caller's wait; the shared refresh goes on.</param>
    /// <returns>The newly fetched value.</returns>
    /// <exception cref="Exception">The shared refresh's failure; the last good value stays cached.</exception>
    Task<T> RefreshAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Reports that the upstream rejected <paramref name="rejectedValue"/>: refreshes once if it is still the current value,
    /// and does nothing if the cache has already moved on. Many callers reporting the same value cause one refresh.
    /// </summary>
    /// <param name="rejectedValue">The value the upstream rejected.</param>
    void Invalidate(T rejectedValue);

    /// <summary>
    /// Reports that the upstream rejected <paramref name="rejectedValue"/> and returns the value to use instead: the current
    /// value if the cache has already moved on, otherwise the result of the (shared) refresh that replaces it.
    /// </summary>
    /// <param name="rejectedValue">The value the upstream rejected.</param>
    /// <param name="cancellationToken">Cancels this caller's wait; the shared refresh goes on.</param>
    /// <returns>The replacement value.</returns>
#if NETSTANDARD2_0
    // netstandard2.0 has no default interface members: implementations provide it (both of ours do).
    Task<T> InvalidateAsync(T rejectedValue, CancellationToken cancellationToken = default);
#else
    async Task<T> InvalidateAsync(T rejectedValue, CancellationToken cancellationToken = default)
    {
        Invalidate(rejectedValue);
        if (TryGetValue(out var current) && !EqualityComparer<T>.Default.Equals(current, rejectedValue))
        {
            return current;
        }

        return await RefreshAsync(cancellationToken).ConfigureAwait(false);
    }
#endif

    /// <summary>
    /// Gets a snapshot of the cache's state: age, next refresh, failures and the last error.
    /// </summary>
    RefreshingCacheStatus Status { get; }
}
