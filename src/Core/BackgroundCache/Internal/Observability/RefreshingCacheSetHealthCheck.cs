using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.Internal;

/// <summary>
/// A set's health: counts of keys by state. Healthy while every key is fresh (or loading for the first time), Degraded while
/// some keys serve a stale value or have none, the registration's failure status (Unhealthy by default) while the set backs
/// off as a whole (the upstream fails every key) or no key has a usable value.
/// </summary>
internal sealed class RefreshingCacheSetHealthCheck<TKey, T>(RefreshingCacheSet<TKey, T> set) : IHealthCheck
    where TKey : notnull
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        int fresh = 0, stale = 0, loading = 0, unavailable = 0;
        foreach (var entry in set.Entries)
        {
            switch (entry.State)
            {
                case RefreshingCacheState.Fresh:
                    fresh++;
                    break;
                case RefreshingCacheState.Stale:
                    stale++;
                    break;
                case RefreshingCacheState.Loading:
                    loading++;
                    break;
                case RefreshingCacheState.Unavailable:
                    unavailable++;
                    break;
            }
        }

        var data = new Dictionary<string, object>
        {
            ["keys"] = fresh + stale + loading + unavailable,
            ["fresh"] = fresh,
            ["stale"] = stale,
            ["loading"] = loading,
            ["unavailable"] = unavailable,
            ["fetchesActive"] = set.FetchesActive,
            ["fetchesQueued"] = set.FetchesQueued,
            ["outage"] = set.InOutage,
        };
        if (set.ParkedUntil is { } nextProbe)
        {
            data["nextProbeAt"] = nextProbe;
        }

        var counts = $"{fresh} fresh, {stale} stale, {loading} loading, {unavailable} unavailable";
        HealthCheckResult result;
        if (set.SharedError is { } error)
        {
            result = new HealthCheckResult(
                context.Registration.FailureStatus,
                $"Cache set '{set.Name}' cannot fetch: the upstream failed every key it tried ({RefreshingCacheHealthCheck<T>.DescribeError(error)}); it backs off as a whole and probes. Keys: {counts}.",
                data: data);
        }
        else if (unavailable > 0 && fresh + stale == 0)
        {
            result = new HealthCheckResult(context.Registration.FailureStatus, $"Cache set '{set.Name}' has no usable value. Keys: {counts}.", data: data);
        }
        else if (stale + unavailable > 0)
        {
            result = HealthCheckResult.Degraded($"Cache set '{set.Name}' has keys whose refreshes fail. Keys: {counts}.", data: data);
        }
        else
        {
            result = HealthCheckResult.Healthy($"Cache set '{set.Name}' is fresh. Keys: {counts}.", data);
        }

        return Task.FromResult(result);
    }
}
