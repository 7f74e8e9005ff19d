using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace BackgroundCache.Internal;

/// <summary>What one cache or one set reports to the gauges at an observation.</summary>
/// <param name="AgeSeconds">The age of the value served (a set: its oldest), or null.</param>
/// <param name="TimeToExpirySeconds">Time until the value expires (a set: the soonest), or null.</param>
/// <param name="ConsecutiveFailures">Failed attempts in a row (a set: the most of any key).</param>
/// <param name="Set">A set's counts, or null for a single cache.</param>
internal readonly record struct MetricsReading(double? AgeSeconds, double? TimeToExpirySeconds, int ConsecutiveFailures, SetReading? Set = null)
{
    public static MetricsReading FromStatus(RefreshingCacheStatus status, DateTimeOffset now) => new(
        status.LastRefreshedAt is { } at && status.State is not (RefreshingCacheState.Unavailable or RefreshingCacheState.Loading) ? (now - at).TotalSeconds : null,
        status.ExpiresAt is { } expiresAt && status.State is not RefreshingCacheState.Unavailable ? (expiresAt - now).TotalSeconds : null,
        status.ConsecutiveFailures);
}

/// <summary>A set's counts at an observation.</summary>
internal readonly record struct SetReading(int Keys, int FetchesQueued, int FetchesActive, int FailingKeys);

/// <summary>
/// The <c>BackgroundCache</c> meter: one per service provider (created through <see cref="IMeterFactory"/> when one is
/// registered), so tests and hosts never share instruments. Every measurement carries the cache's (or set's) name, never
/// a key: a set of 10,000 keys is one time series per instrument.
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
        _meter.CreateObservableGauge("backgroundcache.value.age", () => Observe(r => r.AgeSeconds), "s", "Age of the value each cache serves (a set: its oldest value).");
        _meter.CreateObservableGauge("backgroundcache.value.time_to_expiry", () => Observe(r => r.TimeToExpirySeconds), "s", "Time until the served value expires (a set: the soonest).");
        _meter.CreateObservableGauge("backgroundcache.refresh.consecutive_failures", () => Observe(r => (int?)r.ConsecutiveFailures), "{failure}", "Failed fetch attempts in a row (a set: the most of any key).");
        _meter.CreateObservableGauge("backgroundcache.set.keys", () => Observe(r => r.Set?.Keys), "{key}", "Keys a cache set holds.");
        _meter.CreateObservableGauge("backgroundcache.set.failing_keys", () => Observe(r => r.Set?.FailingKeys), "{key}", "Keys of a cache set whose last attempt failed.");
        _meter.CreateObservableGauge("backgroundcache.set.fetches.queued", () => Observe(r => r.Set?.FetchesQueued), "{fetch}", "Fetches of a cache set waiting for a slot in its fetch budget.");
        _meter.CreateObservableGauge("backgroundcache.set.fetches.active", () => Observe(r => r.Set?.FetchesActive), "{fetch}", "Fetches of a cache set in flight (at most MaxConcurrentFetches).");
    }

    internal interface IMetricsSource
    {
        string Name { get; }

        TimeProvider TimeProvider { get; }

        MetricsReading Read(DateTimeOffset now);
    }

    public void Register(IMetricsSource source) => _sources.TryAdd(source, 0);

    public void Unregister(IMetricsSource source) => _sources.TryRemove(source, out _);

    /// <summary>Gets a value indicating whether anything listens to the attempt instruments (else a refresh skips its clock read).</summary>
    public bool RecordsAttempts => _attempts.Enabled || _duration.Enabled;

    public void RecordAttempt(string cacheName, string valueType, string outcome, TimeSpan duration)
    {
        var name = new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, cacheName);
        var type = new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.ValueTypeTag, valueType);
        var result = new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.OutcomeTag, outcome);
        _attempts.Add(1, name, type, result);
        _duration.Record(duration.TotalSeconds, name, type, result);
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private List<Measurement<TValue>> Observe<TValue>(Func<MetricsReading, TValue?> select)
        where TValue : struct
    {
        var measurements = new List<Measurement<TValue>>();
        foreach (var source in _sources.Keys)
        {
            if (select(source.Read(source.TimeProvider.GetUtcNow())) is { } value)
            {
                measurements.Add(new(value, new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, source.Name)));
            }
        }

        return measurements;
    }
}
