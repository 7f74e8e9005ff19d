using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// Degraded while Redis is unreachable (every instance keeps serving its value); Unhealthy while Redis refuses the
/// coordinator's commands (no retry fixes that: e.g. keys in several hash slots on Redis Cluster).
/// </summary>
internal sealed class RedisCoordinationHealthCheck<T>(RedisCacheCoordinator<T> coordinator) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["leader"] = coordinator.IsLeader, ["sharedVersion"] = coordinator.KnownVersion };
        return Task.FromResult(coordinator.RedisError switch
        {
            null => HealthCheckResult.Healthy($"Cache '{coordinator.Name}': coordinated through Redis.", data),
            { } error when coordinator.RedisRefuses => HealthCheckResult.Unhealthy($"Cache '{coordinator.Name}': Redis refuses the coordinator's commands ({error.GetType().Name}: {error.Message}); serving the current value.", error, data),
            { } error => HealthCheckResult.Degraded($"Cache '{coordinator.Name}': Redis is unavailable ({error.GetType().Name}: {error.Message}); serving the current value.", error, data),
        });
    }
}
