namespace BackgroundCache;

/// <summary>
/// Settings of a refreshing cache set as a whole. Named options: the set registered as <c>name</c> reads the options of
/// that name; each key's schedule, retries and expiry come from the <see cref="RefreshingCacheOptions"/> of the same name.
/// Validated when the host starts.
/// </summary>
public sealed class RefreshingCacheSetOptions
{
    /// <summary>
    /// Gets or sets the most fetches of the set in flight at once: first loads, scheduled refreshes, retries and on-demand
    /// refreshes all take a slot, and wait in order for one when all are taken. A fetch abandoned after
    /// <see cref="RefreshingCacheOptions.FetchTimeout"/> keeps its slot until it really ends.
    /// </summary>
    /// <value>The default is 16. Must be at least 1.</value>
    public int MaxConcurrentFetches { get; set; } = 16;

    /// <summary>
    /// Gets or sets how long a key may go without a read (<c>TryGetValue</c>, <c>GetAsync</c>, <c>GetOrAdd</c>) before it is
    /// removed. Checked every half of this time, so a key is removed between one and one and a half times it after its last
    /// read.
    /// </summary>
    /// <value>The default is <see langword="null"/>: keys stay until removed. When set, must be at least one second.</value>
    public TimeSpan? EvictAfterIdle { get; set; }
}
