namespace BackgroundCache;

/// <summary>
/// Settings of one refreshing cache. Named options: a cache registered with a name reads the options of that name.
/// Bindable from configuration; validated when the host starts.
/// </summary>
/// <remarks>The defaults suit a 2-hour access token and a value refreshed every few minutes.</remarks>
public sealed class RefreshingCacheOptions
{
    /// <summary>
    /// Gets or sets how often a value that carries no expiry is refreshed.
    /// </summary>
    /// <value>The default is 5 minutes. Must be greater than zero.</value>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets how long before its expiry a value that carries one (an <see cref="AccessToken"/>, or a value with an
    /// expiry selector) is refreshed. A short-lived value is refreshed no earlier than half-way through its life.
    /// </summary>
    /// <value>The default is 5 minutes. Must not be negative.</value>
    public TimeSpan RefreshBeforeExpiry { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets the most by which a scheduled refresh is moved <em>earlier</em> at random, so that caches started
    /// together do not call the upstream together. A refresh is never moved later, and never by more than half its delay.
    /// </summary>
    /// <value>The default is 30 seconds. <see cref="TimeSpan.Zero"/> turns jitter off.</value>
    public TimeSpan Jitter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how long one fetch may take before it is cancelled and counted as a failed attempt.
    /// </summary>
    /// <value>The default is 30 seconds. Must be greater than zero.</value>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets the delay before the first retry after a failed fetch; each further failure doubles it, up to
    /// <see cref="RetryMaxDelay"/>. Each delay is jittered between half and all of its nominal value.
    /// </summary>
    /// <value>The default is 1 second. Must be greater than zero.</value>
    public TimeSpan RetryInitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets the longest delay between retries; also the delay after a failure the upstream calls permanent
    /// (see <see cref="IRefreshRetryAdvice"/>).
    /// </summary>
    /// <value>The default is 1 minute. Must not be less than <see cref="RetryInitialDelay"/>.</value>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets or sets how long a value that an invalidation report just got from the upstream is protected from further
    /// reports: <see cref="IRefreshingCache{T}.Invalidate(T)"/> and <c>InvalidateAsync</c> of that value within this time
    /// answer with it and do not call the upstream. An upstream that answers a report with the same value (a WeChat stable
    /// token) has just confirmed it; one that issued a new value moments ago is not asked again for every stale report.
    /// <see cref="IRefreshingCache{T}.RefreshAsync(CancellationToken)"/> is never held back.
    /// </summary>
    /// <value>The default is 30 seconds. <see cref="TimeSpan.Zero"/> turns it off. At most 1 hour.</value>
    public TimeSpan InvalidationCooldown { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets a value indicating whether host start waits for the first value (bounded by
    /// <see cref="InitialLoadTimeout"/>). When <see langword="false"/>, the host starts at once and the first
    /// <see cref="IRefreshingCache{T}.GetAsync(CancellationToken)"/> waits instead.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool WaitForInitialLoad { get; set; }

    /// <summary>
    /// Gets or sets how long, from start, readers (and host start, with <see cref="WaitForInitialLoad"/>) wait for the
    /// first value before <see cref="CacheValueUnavailableException"/> is thrown.
    /// </summary>
    /// <value>The default is 30 seconds. Must be greater than zero.</value>
    public TimeSpan InitialLoadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets how long a value without expiry may be served after it was fetched, while refreshes fail.
    /// Past it the value is withdrawn and readers get <see cref="CacheValueUnavailableException"/>.
    /// </summary>
    /// <value>The default is <see langword="null"/>: unlimited. When set, must be greater than <see cref="RefreshInterval"/>.</value>
    public TimeSpan? MaxStaleness { get; set; }
}
