namespace BackgroundCache.Coordination;

/// <summary>
/// What a coordinator coordinates: one cache (a single entry, key <c>""</c>) or one set (an entry per key). Thread-safe.
/// </summary>
/// <typeparam name="T">The type of the cached values.</typeparam>
public interface ICoordinatedValues<T>
{
    /// <summary>Gets the registration's name (the cache's or the set's).</summary>
    string Name { get; }

    /// <summary>Gets the options in force for each value (a set's keys share them): <see cref="RefreshingCacheOptions.FetchTimeout"/> bounds the leader's call.</summary>
    RefreshingCacheOptions Options { get; }

    /// <summary>Gets the entries held now (a snapshot for a set; keys may come and go while it is enumerated).</summary>
    IEnumerable<ICoordinatedEntry<T>> Entries { get; }

    /// <summary>Gets when a value expires, as the cache computes it (its expiry selector), or <see langword="null"/> when it does not.</summary>
    /// <param name="value">A value, typically read from the store.</param>
    /// <returns>The expiry, or <see langword="null"/>.</returns>
    DateTimeOffset? GetExpiresAt(T value);

    /// <summary>Finds the entry of a key held here.</summary>
    /// <param name="key">The key, formatted by <see cref="CoordinationKeys"/>.</param>
    /// <returns>The entry, or <see langword="null"/> when this instance does not hold the key.</returns>
    ICoordinatedEntry<T>? Find(string key);

    /// <summary>Gets or adds the entry of a key (another instance asked for it). An added entry starts empty; publish to it.</summary>
    /// <param name="key">The key, formatted by <see cref="CoordinationKeys"/>.</param>
    /// <returns>The entry, or <see langword="null"/> when this registration cannot hold the key (a single cache asked for a
    /// key other than <c>""</c>, a key that does not parse, or the registration stopped).</returns>
    ICoordinatedEntry<T>? GetOrAdd(string key);

    /// <summary>Removes a key here only, because another instance removed it on purpose. A single cache ignores it.</summary>
    /// <param name="key">The key, formatted by <see cref="CoordinationKeys"/>.</param>
    void RemoveLocal(string key);
}
