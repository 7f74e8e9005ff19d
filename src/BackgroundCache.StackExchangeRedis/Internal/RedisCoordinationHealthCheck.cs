using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>Degraded while Redis is unreachable (every instance keeps serving its value).</summary>
internal sealed class RedisCoordinationHealthCheck<T>(RedisCacheCoordinator<T> coordinator) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["leader"] = coordinator.IsLeader, ["sharedVersion"] = coordinator.KnownVersion };
        return Task.FromResult(coordinator.RedisError is { } error
            ? HealthCheckResult.Degraded($"Cache '{coordinator.Name}': Redis is unavailable ({error.GetType().Name}: {error.Message}); serving the current value.", error, data)
            : HealthCheckResult.Healthy($"Cache '{coordinator.Name}': coordinated through Redis.", data));
    }
}
