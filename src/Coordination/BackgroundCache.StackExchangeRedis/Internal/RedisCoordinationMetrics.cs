using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>The <c>BackgroundCache.StackExchangeRedis</c> meter: leader status, lease changes, Redis errors.</summary>
internal sealed class RedisCoordinationMetrics : IDisposable
{
    public const string MeterName = "BackgroundCache.StackExchangeRedis";
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _leaseChanges;
    private readonly Counter<long> _redisErrors;
    private readonly ConcurrentDictionary<object, Func<(string Name, bool Leader)>> _sources = new();

    public RedisCoordinationMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _leaseChanges = _meter.CreateCounter<long>("backgroundcache.coordination.lease_changes", "{change}", "Leader lease acquisitions and losses.");
        _redisErrors = _meter.CreateCounter<long>("backgroundcache.coordination.redis_errors", "{error}", "Redis operations that failed.");
        _meter.CreateObservableGauge("backgroundcache.coordination.leader", ObserveLeaders, "{leader}", "1 while this instance holds the cache's lease.");
    }

    public void Register<T>(RedisCacheCoordinator<T> coordinator) => _sources[coordinator] = () => (coordinator.Name, coordinator.IsLeader);

    public void Unregister(object coordinator) => _sources.TryRemove(coordinator, out _);

    public void LeaseChanged(string cacheName, bool acquired) =>
        _leaseChanges.Add(1, new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, cacheName), new KeyValuePair<string, object?>("backgroundcache.lease.change", acquired ? "acquired" : "lost"));

    public void RedisError(string cacheName) => _redisErrors.Add(1, new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, cacheName));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<int>> ObserveLeaders()
    {
        foreach (var source in _sources.Values)
        {
            var (name, leader) = source();
            yield return new Measurement<int>(leader ? 1 : 0, new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, name));
        }
    }
}
