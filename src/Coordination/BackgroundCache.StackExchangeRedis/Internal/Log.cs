using Microsoft.Extensions.Logging;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>Log messages of the Redis package (event ids 3000-3999); no value is ever logged.</summary>
internal static partial class Log
{
    [LoggerMessage(3000, LogLevel.Information, "Cache '{CacheName}': this instance ({Owner}) now leads (holds the Redis lease).")]
    public static partial void LeaseAcquired(ILogger logger, string cacheName, string owner);

    [LoggerMessage(3001, LogLevel.Information, "Cache '{CacheName}': this instance ({Owner}) no longer leads (lease lost or expired).")]
    public static partial void LeaseLost(ILogger logger, string cacheName, string owner);

    [LoggerMessage(3002, LogLevel.Debug, "Cache '{CacheName}': released the lease on stop.")]
    public static partial void LeaseReleased(ILogger logger, string cacheName);

    [LoggerMessage(3003, LogLevel.Warning, "Cache '{CacheName}': Redis is unavailable; serving the current value.")]
    public static partial void RedisUnavailable(ILogger logger, Exception exception, string cacheName);

    [LoggerMessage(3004, LogLevel.Information, "Cache '{CacheName}': Redis is reachable again.")]
    public static partial void RedisRecovered(ILogger logger, string cacheName);

    [LoggerMessage(3005, LogLevel.Debug, "Cache '{CacheName}' key '{Key}': adopted shared version {Version} from Redis.")]
    public static partial void Adopted(ILogger logger, string cacheName, string key, long version);

    [LoggerMessage(3006, LogLevel.Warning, "Cache '{CacheName}' key '{Key}': the write of a fetched value was refused (another instance leads or wrote since the fetch began); the stored value is marked suspect and the leader refreshes it again.")]
    public static partial void FencedWrite(ILogger logger, string cacheName, string key);

    [LoggerMessage(3007, LogLevel.Warning, "Cache '{CacheName}' key '{Key}': Redis is unavailable and the value is about to expire; calling the upstream locally.")]
    public static partial void LocalRefreshDuringOutage(ILogger logger, string cacheName, string key);

    [LoggerMessage(3008, LogLevel.Debug, "Cache '{CacheName}' key '{Key}': asked the leader to refresh version {Version} ({Reason}).")]
    public static partial void Forwarded(ILogger logger, string cacheName, string key, long version, string reason);

    [LoggerMessage(3009, LogLevel.Debug, "Cache '{CacheName}' key '{Key}': stored version {Version} in Redis.")]
    public static partial void Stored(ILogger logger, string cacheName, string key, long version);

    [LoggerMessage(3011, LogLevel.Warning, "Cache '{CacheName}' key '{Key}': storing a fetched value in Redis did not complete in time; the value is served and reconciled with Redis at the next poll (the upstream is not called again).")]
    public static partial void WriteOutcomeUnknown(ILogger logger, Exception exception, string cacheName, string key);

    [LoggerMessage(3012, LogLevel.Information, "Cache '{CacheName}' key '{Key}': Redis had lost the value; stored this instance's value again as version {Version} (no upstream call).")]
    public static partial void Restored(ILogger logger, string cacheName, string key, long version);

    [LoggerMessage(3013, LogLevel.Error, "Cache '{CacheName}': Redis refuses the coordinator's commands ({ErrorType}); retries do not fix this (on Redis Cluster, every key of a registration must share one hash slot: keep a {{hash tag}} in KeyPrefix or leave the default). Serving the current value; the outage policy applies.")]
    public static partial void RedisRefused(ILogger logger, Exception exception, string cacheName, string errorType);

    [LoggerMessage(3014, LogLevel.Warning, "Cache '{CacheName}' key '{Key}': Redis held version {StoredVersion}, older than the version {Version} this instance serves (writes lost by a failover or a restore); wrote the served value back (no upstream call).")]
    public static partial void Repaired(ILogger logger, string cacheName, string key, long storedVersion, long version);

    [LoggerMessage(3015, LogLevel.Debug, "Cache '{CacheName}' key '{Key}': a refresh request read while this instance served version {SeenVersion} is answered by the stored version {Version}, which a refresh that ended meanwhile stored (no upstream call).")]
    public static partial void RequestAnsweredByStoredValue(ILogger logger, string cacheName, string key, long seenVersion, long version);

    [LoggerMessage(3016, LogLevel.Debug, "Cache '{CacheName}' key '{Key}': a request for a version newer than {Version} went unanswered for a third of the lease; stored it in Redis too, for the leader's next renewal.")]
    public static partial void RequestStored(ILogger logger, string cacheName, string key, long version);

    [LoggerMessage(3017, LogLevel.Debug, "Cache '{CacheName}' key '{Key}': took a request a follower stored in Redis (its message may not have reached this instance); answering it.")]
    public static partial void StoredRequestTaken(ILogger logger, string cacheName, string key);

    [LoggerMessage(3010, LogLevel.Warning, "Cache '{CacheName}': handling a Redis notification or poll failed; the next poll tries again.")]
    public static partial void MessageFailed(ILogger logger, Exception exception, string cacheName);
}
