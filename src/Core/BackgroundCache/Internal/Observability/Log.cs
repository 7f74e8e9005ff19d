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
    public const int SchedulerCallbackFailedId = 1010;
    public const int OptionsReloadRejectedId = 1011;
    public const int AbandonedFetchFailedId = 1012;
    public const int AbandonedFetchEndedId = 1013;
    public const int AbandonedFetchScopeDisposeFailedId = 1014;
    public const int ReportWithinCooldownId = 1030;
    public const int DependencyStillUnavailableId = 1031;
    public const int AwaitingPushedTicketId = 1032;
    public const int StillAwaitingPushedTicketId = 1033;
    public const int KeyNotFoundId = 1034;
    public const int RefreshAfterStaleAttemptId = 1035;
    public const int SetOutageStartedId = 1020;
    public const int SetOutageProbeFailedId = 1021;
    public const int SetOutageEndedId = 1022;
    public const int SetKeyRemovedId = 1023;
    public const int SetKeyEvictedId = 1024;
    public const int SetInitialKeysLoadedId = 1025;
    public const int SetInitialKeysFailedId = 1026;

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

    [LoggerMessage(RecoveredId, LogLevel.Information, "Cache '{CacheName}' recovered at version {Version}, after {Failures} failed attempt(s).")]
    public static partial void Recovered(ILogger logger, string cacheName, int failures, long version);

    [LoggerMessage(ObserverFailedId, LogLevel.Warning, "Cache '{CacheName}' could not mirror version {Version}.")]
    public static partial void ObserverFailed(ILogger logger, Exception exception, string cacheName, long version);

    [LoggerMessage(RefreshScheduledId, LogLevel.Trace, "Cache '{CacheName}' next refresh at {NextRefreshAt}.")]
    public static partial void RefreshScheduled(ILogger logger, string cacheName, DateTimeOffset nextRefreshAt);

    [LoggerMessage(StoppedId, LogLevel.Debug, "Cache '{CacheName}' refresher stopped.")]
    public static partial void Stopped(ILogger logger, string cacheName);

    [LoggerMessage(OnDemandRefreshBlockedId, LogLevel.Debug, "Cache '{CacheName}' answered an on-demand refresh with the last error: the upstream asked not to be called before {RetryAfter}.")]
    public static partial void OnDemandRefreshBlocked(ILogger logger, string cacheName, DateTimeOffset retryAfter);

    [LoggerMessage(SchedulerCallbackFailedId, LogLevel.Error, "Cache '{CacheName}' scheduler callback failed; other values keep their schedule.")]
    public static partial void SchedulerCallbackFailed(ILogger logger, Exception exception, string cacheName);

    [LoggerMessage(OptionsReloadRejectedId, LogLevel.Error, "Cache '{CacheName}' ignored a reloaded configuration that failed validation and keeps its last valid options: {Failures}")]
    public static partial void OptionsReloadRejected(ILogger logger, string cacheName, string failures);

    [LoggerMessage(AbandonedFetchFailedId, LogLevel.Warning, "Cache '{CacheName}': a fetch abandoned after FetchTimeout has now failed.")]
    public static partial void AbandonedFetchFailed(ILogger logger, Exception exception, string cacheName);

    [LoggerMessage(AbandonedFetchScopeDisposeFailedId, LogLevel.Warning, "Cache '{CacheName}': disposing the services scope of a fetch abandoned after FetchTimeout failed.")]
    public static partial void AbandonedFetchScopeDisposeFailed(ILogger logger, Exception exception, string cacheName);

    [LoggerMessage(AbandonedFetchEndedId, LogLevel.Information, "Cache '{CacheName}': a fetch abandoned after FetchTimeout has now {Outcome}.")]
    public static partial void AbandonedFetchEnded(ILogger logger, string cacheName, string outcome);

    [LoggerMessage(ReportWithinCooldownId, LogLevel.Debug, "Cache '{CacheName}' did not refresh for a report against version {Version}: the upstream answered a report {Age} ago, within InvalidationCooldown ({Cooldown}).")]
    public static partial void ReportWithinCooldown(ILogger logger, string cacheName, long version, TimeSpan age, TimeSpan cooldown);

    [LoggerMessage(RefreshAfterStaleAttemptId, LogLevel.Debug, "Cache '{CacheName}': a forced refresh joined an attempt that ended with no version newer than {Version}, the one served when it was asked (the attempt began before it was adopted); one more attempt answers it.")]
    public static partial void RefreshAfterStaleAttempt(ILogger logger, string cacheName, long version);

    [LoggerMessage(DependencyStillUnavailableId, LogLevel.Debug, "Cache '{CacheName}' refresh failed again ({ConsecutiveFailures} in a row): cache '{Dependency}', which it reads, still has no usable value (logged once; that cache logs its own failures); next attempt in {RetryDelay}.")]
    public static partial void DependencyStillUnavailable(ILogger logger, Exception exception, string cacheName, int consecutiveFailures, string dependency, TimeSpan retryDelay);

    [LoggerMessage(AwaitingPushedTicketId, LogLevel.Information, "Cache '{CacheName}' waits for a pushed ticket: {Reason} Next attempt in {RetryDelay}; the push fetches at once.")]
    public static partial void AwaitingPushedTicket(ILogger logger, string cacheName, string reason, TimeSpan retryDelay);

    [LoggerMessage(StillAwaitingPushedTicketId, LogLevel.Debug, "Cache '{CacheName}' still waits for a pushed ticket ({ConsecutiveFailures} attempts); next attempt in {RetryDelay}.")]
    public static partial void StillAwaitingPushedTicket(ILogger logger, string cacheName, int consecutiveFailures, TimeSpan retryDelay);

    [LoggerMessage(KeyNotFoundId, LogLevel.Debug, "Cache '{CacheName}': the upstream does not know this key; it leaves the set. {Reason}")]
    public static partial void KeyNotFound(ILogger logger, string cacheName, string reason);

    [LoggerMessage(SetOutageStartedId, LogLevel.Warning, "Cache set '{CacheName}': {FailingKeys} keys failed in a row with no success in between; the set backs off as a whole and probes one key at a time (next probe in {ProbeDelay}).")]
    public static partial void SetOutageStarted(ILogger logger, Exception exception, string cacheName, int failingKeys, TimeSpan probeDelay);

    [LoggerMessage(SetOutageProbeFailedId, LogLevel.Warning, "Cache set '{CacheName}': probe {Probe} failed; next probe in {ProbeDelay}.")]
    public static partial void SetOutageProbeFailed(ILogger logger, string cacheName, int probe, TimeSpan probeDelay);

    [LoggerMessage(SetOutageEndedId, LogLevel.Information, "Cache set '{CacheName}': the upstream answers again after {Probes} probes; {Parked} parked keys resume within the fetch budget.")]
    public static partial void SetOutageEnded(ILogger logger, string cacheName, int probes, int parked);

    [LoggerMessage(SetKeyRemovedId, LogLevel.Debug, "Cache set '{CacheName}': key removed; {Count} keys held.")]
    public static partial void SetKeyRemoved(ILogger logger, string cacheName, int count);

    [LoggerMessage(SetKeyEvictedId, LogLevel.Debug, "Cache set '{CacheName}': {Evicted} keys evicted after EvictAfterIdle ({EvictAfterIdle}) without a read; {Count} keys held.")]
    public static partial void SetKeysEvicted(ILogger logger, string cacheName, int evicted, TimeSpan evictAfterIdle, int count);

    [LoggerMessage(SetInitialKeysLoadedId, LogLevel.Information, "Cache set '{CacheName}': {Count} initial keys loaded.")]
    public static partial void SetInitialKeysLoaded(ILogger logger, string cacheName, int count);

    [LoggerMessage(SetInitialKeysFailedId, LogLevel.Error, "Cache set '{CacheName}': loading the initial keys failed (attempt {Attempt}); retrying in {RetryDelay}. Keys read meanwhile are added as they are read.")]
    public static partial void SetInitialKeysFailed(ILogger logger, Exception exception, string cacheName, int attempt, TimeSpan retryDelay);
}
