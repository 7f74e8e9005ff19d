using Microsoft.Extensions.Logging;

namespace BackgroundCache.Internal;

/// <summary>
/// Log messages of the core package (event ids 1000-1999). No message carries a value, token or secret.
/// </summary>
internal static partial class Log
{
    public const int RefreshSucceededId = 1000;
    public const int RefreshFailedServingStaleId = 1001;
    public const int RefreshFailedNoValueId = 1002;
    public const int ValueExpiredId = 1003;
    public const int InitialLoadTimedOutId = 1004;
    public const int RecoveredId = 1005;
    public const int ObserverFailedId = 1006;
    public const int RefreshScheduledId = 1007;
    public const int StoppedId = 1008;
    public const int OnDemandRefreshBlockedId = 1009;

    [LoggerMessage(RefreshSucceededId, LogLevel.Debug, "Cache '{CacheName}' refreshed to version {Version} in {DurationMs:F1} ms; expires at {ExpiresAt}.")]
    public static partial void RefreshSucceeded(ILogger logger, string cacheName, long version, double durationMs, DateTimeOffset? expiresAt);

    [LoggerMessage(RefreshFailedServingStaleId, LogLevel.Warning, "Cache '{CacheName}' refresh failed ({ConsecutiveFailures} in a row); still serving version {Version}; next attempt in {RetryDelay}.")]
    public static partial void RefreshFailedServingStale(ILogger logger, Exception exception, string cacheName, int consecutiveFailures, long version, TimeSpan retryDelay);

    [LoggerMessage(RefreshFailedNoValueId, LogLevel.Error, "Cache '{CacheName}' refresh failed ({ConsecutiveFailures} in a row) and no usable value exists; next attempt in {RetryDelay}.")]
    public static partial void RefreshFailedNoValue(ILogger logger, Exception exception, string cacheName, int consecutiveFailures, TimeSpan retryDelay);

    [LoggerMessage(ValueExpiredId, LogLevel.Error, "Cache '{CacheName}' withdrew version {Version}: it expired at {RetiredAt} while refreshes failed. Readers now get CacheValueUnavailableException.")]
    public static partial void ValueExpired(ILogger logger, string cacheName, long version, DateTimeOffset retiredAt);

    [LoggerMessage(InitialLoadTimedOutId, LogLevel.Error, "Cache '{CacheName}' did not load within InitialLoadTimeout ({Timeout}); host start continues and the refresher keeps trying.")]
    public static partial void InitialLoadTimedOut(ILogger logger, string cacheName, TimeSpan timeout);

    [LoggerMessage(RecoveredId, LogLevel.Information, "Cache '{CacheName}' recovered after {Failures} failed attempts; now at version {Version}.")]
    public static partial void Recovered(ILogger logger, string cacheName, int failures, long version);

    [LoggerMessage(ObserverFailedId, LogLevel.Warning, "Cache '{CacheName}' could not mirror version {Version}.")]
    public static partial void ObserverFailed(ILogger logger, Exception exception, string cacheName, long version);

    [LoggerMessage(RefreshScheduledId, LogLevel.Trace, "Cache '{CacheName}' next refresh at {NextRefreshAt}.")]
    public static partial void RefreshScheduled(ILogger logger, string cacheName, DateTimeOffset nextRefreshAt);

    [LoggerMessage(StoppedId, LogLevel.Debug, "Cache '{CacheName}' refresher stopped.")]
    public static partial void Stopped(ILogger logger, string cacheName);

    [LoggerMessage(OnDemandRefreshBlockedId, LogLevel.Debug, "Cache '{CacheName}' answered an on-demand refresh with the last error: the upstream asked not to be called before {RetryAfter}.")]
    public static partial void OnDemandRefreshBlocked(ILogger logger, string cacheName, DateTimeOffset retryAfter);
}
