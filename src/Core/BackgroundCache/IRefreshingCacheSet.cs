using System.Diagnostics.CodeAnalysis;

namespace BackgroundCache;

/// <summary>
/// Many values of one kind, one per key, each kept fresh in the background like an <see cref="IRefreshingCache{T}"/>;
/// keys are added and removed while the process runs. One scheduler with one timer drives every key, and a fetch budget
/// (<see cref="RefreshingCacheSetOptions.MaxConcurrentFetches"/>) caps the upstream calls in flight.
/// </summary>
/// <typeparam name="TKey">The key type (a tenant id, an authorizer appid).</typeparam>
/// <typeparam name="T">The type of the cached values.</typeparam>
public interface IRefreshingCacheSet<TKey, T>
    where TKey : notnull
{
    /// <summary>Gets the set's name: its service key and the name of its options.</summary>
    string Name { get; }

    /// <summary>Gets the number of keys the set holds now.</summary>
    int Count { get; }

    /// <summary>Gets a snapshot of the keys the set holds now.</summary>
    IReadOnlyCollection<TKey> Keys { get; }

    /// <summary>
    /// Gets the cache of <paramref name="key"/>, adding the key if absent: its first fetch is queued and this returns at
    /// once, never blocking and never calling the upstream on the caller's thread.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <returns>The key's cache: read it, refresh it, invalidate it, or watch its <see cref="IRefreshingCache{T}.Status"/>.</returns>
    IRefreshingCache<T> GetOrAdd(TKey key);

    /// <summary>
    /// Gets the current value of <paramref name="key"/> without adding the key, blocking or allocating.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The key's current value, when the set holds the key and a usable value.</param>
    /// <returns><see langword="true"/> when a usable value exists.</returns>
    bool TryGetValue(TKey key, [MaybeNullWhen(false)] out T value);

    /// <summary>
    /// Gets the current value of <paramref name="key"/>, adding the key if absent; waits only for that key's first load.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait for the first load.</param>
    /// <returns>The key's current value.</returns>
    /// <exception cref="CacheValueUnavailableException">No usable value exists for the key (see
    /// <see cref="IRefreshingCache{T}.GetAsync(CancellationToken)"/>).</exception>
    ValueTask<T> GetAsync(TKey key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes <paramref name="key"/>: stops its refreshes and cancels its fetch. Callers waiting for its value get
    /// <see cref="CacheValueUnavailableException"/> or a cancellation.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns><see langword="true"/> when the key was held; <see langword="false"/> when it was absent.</returns>
    ValueTask<bool> RemoveAsync(TKey key, CancellationToken cancellationToken = default);
}

/// <summary>
/// Fetches a new <see cref="AccessToken"/> for one key (a tenant, an authorized account) of a token cache set.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
public interface IKeyedTokenSource<TKey>
{
    /// <summary>
    /// Fetches the token of <paramref name="key"/> from the upstream.
    /// </summary>
    /// <param name="key">The key whose token is wanted.</param>
    /// <param name="cancellationToken">Cancelled when the fetch times out, the key is removed or the host stops.</param>
    /// <returns>The token and its expiry.</returns>
    ValueTask<AccessToken> GetTokenAsync(TKey key, CancellationToken cancellationToken);
}
