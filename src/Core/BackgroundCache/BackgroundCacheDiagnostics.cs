using System.Diagnostics;

namespace BackgroundCache;

/// <summary>
/// Names of the diagnostics that BackgroundCache emits, for OpenTelemetry set-up:
/// <c>.AddMeter(BackgroundCacheDiagnostics.MeterName)</c> and <c>.AddSource(BackgroundCacheDiagnostics.ActivitySourceName)</c>.
/// </summary>
public static class BackgroundCacheDiagnostics
{
    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> of the core package.</summary>
    public const string MeterName = "BackgroundCache";

    /// <summary>The name of the <see cref="System.Diagnostics.ActivitySource"/> that traces each refresh.</summary>
    public const string ActivitySourceName = "BackgroundCache";

    /// <summary>The tag that carries a cache's name on every metric and span.</summary>
    public const string CacheNameTag = "backgroundcache.cache.name";

    /// <summary>
    /// The tag that carries the cached value's type on the refresh metrics (<c>AccessToken</c>, <c>WeChatJsApiTicket</c>),
    /// so caches of different types that share a name (an app's token and its JS-SDK ticket) are told apart.
    /// </summary>
    public const string ValueTypeTag = "backgroundcache.value.type";

    /// <summary>
    /// The tag that carries a refresh's outcome: <c>success</c> (an upstream call), <c>shared</c> (a value another instance
    /// fetched, with cluster coordination), <c>failure</c>, <c>timeout</c>.
    /// </summary>
    public const string OutcomeTag = "backgroundcache.refresh.outcome";

    /// <summary>
    /// The log category of every single cache (<c>"BackgroundCache.RefreshingCache"</c>); each message names its cache.
    /// Filter it like any category, e.g. <c>"Logging:LogLevel:BackgroundCache.RefreshingCache": "Warning"</c>.
    /// </summary>
    public const string CacheLogCategory = "BackgroundCache.RefreshingCache";

    /// <summary>The log category of every cache set (<c>"BackgroundCache.CacheSet"</c>); each message names its set (and key as <c>set[key]</c>).</summary>
    public const string CacheSetLogCategory = "BackgroundCache.CacheSet";

    internal static readonly ActivitySource ActivitySource = new(ActivitySourceName);
}
