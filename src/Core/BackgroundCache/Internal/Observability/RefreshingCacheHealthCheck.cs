using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.Internal;

/// <summary>
/// Healthy while the value is fresh, Degraded while a value is served but refreshes fail, Unhealthy without a usable value.
/// </summary>
internal sealed class RefreshingCacheHealthCheck<T>(IRefreshingCache<T> cache, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = cache.Status;
        var now = time.GetUtcNow();
        var data = new Dictionary<string, object>
        {
            ["state"] = status.State.ToString(),
            ["version"] = status.Version,
            ["consecutiveFailures"] = status.ConsecutiveFailures,
        };
        if (status.GetAge(now) is { } age)
        {
            data["ageSeconds"] = Math.Round(age.TotalSeconds, 3);
        }

        if (status.ExpiresAt is { } expiresAt)
        {
            data["expiresAt"] = expiresAt;
        }

        if (status.NextRefreshAt is { } next)
        {
            data["nextRefreshAt"] = next;
        }

        var lastError = status.LastError is { } error ? DescribeError(error) : null;
        if (lastError is not null)
        {
            data["lastError"] = lastError;
        }

        var name = string.IsNullOrEmpty(status.Name) ? typeof(T).Name : $"{status.Name}:{typeof(T).Name}";
        var result = status.State switch
        {
            RefreshingCacheState.Fresh => HealthCheckResult.Healthy($"Cache '{name}' is fresh.", data),
            RefreshingCacheState.Stale when Engine.RefreshPolicy.IsPermanent(status.LastError) => new HealthCheckResult(
                context.Registration.FailureStatus,
                $"Cache '{name}' serves its last good value, but the upstream reports a problem that retries will not fix: {lastError}",
                data: data),
            RefreshingCacheState.Stale => HealthCheckResult.Degraded(
                $"Cache '{name}' serves its last good value; {status.ConsecutiveFailures} refreshes in a row failed: {lastError}", data: data),
            RefreshingCacheState.Loading => new HealthCheckResult(context.Registration.FailureStatus, $"Cache '{name}' has not loaded yet.", data: data),
            RefreshingCacheState.Stopped => new HealthCheckResult(context.Registration.FailureStatus, $"Cache '{name}' has stopped.", data: data),
            _ => new HealthCheckResult(context.Registration.FailureStatus, $"Cache '{name}' has no usable value: {lastError}", data: data),
        };
        return Task.FromResult(result);
    }

    /// <summary>The most of an error's message a health report copies (an upstream may put 60 KB in one).</summary>
    internal const int MaxErrorLength = 512;

    /// <summary>"Type: message", bounded to <see cref="MaxErrorLength"/> characters.</summary>
    internal static string DescribeError(Exception error)
    {
        var text = $"{error.GetType().Name}: {error.Message}";
        return text.Length <= MaxErrorLength ? text : $"{text.Substring(0, MaxErrorLength)}… ({text.Length - MaxErrorLength} more characters)";
    }
}
