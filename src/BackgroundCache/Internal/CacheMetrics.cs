using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace BackgroundCache.Internal;

/// <summary>
/// The <c>BackgroundCache</c> meter: one per service provider (created through <see cref="IMeterFactory"/> when one is
/// registered), so tests and hosts never share instruments.
/// </summary>
internal sealed class CacheMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly ConcurrentDictionary<IMetricsSource, byte> _sources = new();
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _attempts;

    public CacheMetrics(IMeterFactory? meterFactory = null)
    {
        if (meterFactory is null)
        {
            _meter = new Meter(BackgroundCacheDiagnostics.MeterName);
            _ownsMeter = true;
        }
        else
        {
            _meter = meterFactory.Create(BackgroundCacheDiagnostics.MeterName);
        }

        _duration = _meter.CreateHistogram<double>("backgroundcache.refresh.duration", "s", "Duration of each upstream fetch.");
        _attempts = _meter.CreateCounter<long>("backgroundcache.refresh.attempts", "{attempt}", "Upstream fetch attempts, tagged with their outcome.");
        _meter.CreateObservableGauge("backgroundcache.value.age", ObserveAge, "s", "Age of the value each cache serves.");
        _meter.CreateObservableGauge("backgroundcache.value.time_to_expiry", ObserveTimeToExpiry, "s", "Time until the served value expires.");
        _meter.CreateObservableGauge("backgroundcache.refresh.consecutive_failures", ObserveFailures, "{failure}", "Failed fetch attempts in a row.");
    }

    internal interface IMetricsSource
    {
        string Name { get; }

        RefreshingCacheStatus Status { get; }

        TimeProvider TimeProvider { get; }
    }

    public void Register(IMetricsSource source) => _sources.TryAdd(source, 0);

    public void Unregister(IMetricsSource source) => _sources.TryRemove(source, out _);

    public void RecordAttempt(string cacheName, string outcome, TimeSpan duration)
    {
        var name = new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, cacheName);
        var result = new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.OutcomeTag, outcome);
        _attempts.Add(1, name, result);
        _duration.Record(duration.TotalSeconds, name, result);
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<double>> ObserveAge()
    {
        foreach (var source in _sources.Keys)
        {
            var status = source.Status;
            if (status.LastRefreshedAt is { } at && status.State is not RefreshingCacheState.Unavailable)
            {
                yield return new((source.TimeProvider.GetUtcNow() - at).TotalSeconds, Tag(source));
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveTimeToExpiry()
    {
        foreach (var source in _sources.Keys)
        {
            if (source.Status.ExpiresAt is { } expiresAt)
            {
                yield return new((expiresAt - source.TimeProvider.GetUtcNow()).TotalSeconds, Tag(source));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveFailures()
    {
        foreach (var source in _sources.Keys)
        {
            yield return new(source.Status.ConsecutiveFailures, Tag(source));
        }
    }

    private static KeyValuePair<string, object?> Tag(IMetricsSource source) => new(BackgroundCacheDiagnostics.CacheNameTag, source.Name);
}
