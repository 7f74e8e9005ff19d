using System.Collections.Frozen;
using System.Diagnostics.Metrics;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>
/// Upstream calls per app in each of its issuer's quota windows. The hub's counting handler on each app's HttpClient calls
/// <see cref="RecordAsync"/> once per call that reached the issuer; the counts live in an <see cref="IQuotaStore"/> (this process,
/// or Redis: one ledger for every hub). Published as <c>backgroundcache.upstream.quota.used</c> and <c>.limit</c>.
/// </summary>
internal sealed class QuotaLedger
{
    /// <summary>How many hourly buckets the burn chart keeps.</summary>
    public const int HistoryHours = 24;

    private readonly FrozenDictionary<string, IReadOnlyList<QuotaWindow>> _windows;
    private readonly IQuotaStore _store;
    private readonly TimeProvider _time;
    private readonly FrozenDictionary<string, long[]> _history;
    private readonly FrozenDictionary<string, long[]> _historyHours;

    public QuotaLedger(IReadOnlyDictionary<string, IReadOnlyList<QuotaWindow>> windows, IQuotaStore store, TimeProvider time, Meter meter)
    {
        _windows = windows.ToFrozenDictionary(StringComparer.Ordinal);
        _store = store;
        _time = time;
        _history = windows.Keys.ToFrozenDictionary(k => k, _ => new long[HistoryHours], StringComparer.Ordinal);
        _historyHours = windows.Keys.ToFrozenDictionary(k => k, _ => new long[HistoryHours], StringComparer.Ordinal);
        meter.CreateObservableGauge(UsedInstrument, () => Measure(w => w.Used), "{call}", "Upstream calls of an app in the current quota window, by app and window.");
        meter.CreateObservableGauge(LimitInstrument, () => Measure(w => w.Limit), "{call}", "The issuer's quota of an app's upstream calls per window, by app and window.");
    }

    public const string UsedInstrument = "backgroundcache.upstream.quota.used";

    public const string LimitInstrument = "backgroundcache.upstream.quota.limit";

    public const string AppTag = "app";

    public const string WindowTag = "window";

    public IReadOnlyList<QuotaWindow> Windows(string app) => _windows.GetValueOrDefault(app) ?? [];

    /// <summary>Counts one upstream call of <paramref name="app"/> in every window that counts its kind.</summary>
    public async ValueTask RecordAsync(string app, QuotaCalls calls, CancellationToken cancellationToken)
    {
        if (calls == QuotaCalls.None || !_windows.TryGetValue(app, out var windows))
        {
            return;
        }

        var now = _time.GetUtcNow();
        foreach (var window in windows.Where(w => (w.Counts & calls) != 0))
        {
            await _store.IncrementAsync(app, window, window.StartOf(now), cancellationToken).ConfigureAwait(false);
        }

        if ((calls & QuotaCalls.Token) != 0)
        {
            var hour = now.ToUnixTimeSeconds() / 3600;
            var slot = (int)(hour % HistoryHours);
            lock (_history[app])
            {
                if (_historyHours[app][slot] != hour)
                {
                    _historyHours[app][slot] = hour;
                    _history[app][slot] = 0;
                }

                _history[app][slot]++;
            }
        }
    }

    /// <summary>The app's windows with their current counts.</summary>
    public IReadOnlyList<QuotaUse> Use(string app)
    {
        var now = _time.GetUtcNow();
        return [.. Windows(app).Select(w => new QuotaUse(w, _store.Get(app, w, w.StartOf(now))))];
    }

    /// <summary>Token calls per hour over the last <see cref="HistoryHours"/> hours, oldest first (this hub's calls).</summary>
    public long[] Burn(string app)
    {
        var result = new long[HistoryHours];
        if (!_history.TryGetValue(app, out var counts))
        {
            return result;
        }

        var hour = _time.GetUtcNow().ToUnixTimeSeconds() / 3600;
        lock (counts)
        {
            for (var i = 0; i < HistoryHours; i++)
            {
                var h = hour - (HistoryHours - 1) + i;
                var slot = (int)(h % HistoryHours);
                result[i] = _historyHours[app][slot] == h ? counts[slot] : 0;
            }
        }

        return result;
    }

    /// <summary>Reads the shared counts again (Redis), so that <see cref="Use"/> shows every hub's calls.</summary>
    public Task RefreshAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        return _store.RefreshAsync([.. _windows.SelectMany(a => a.Value.Select(w => (a.Key, w, w.StartOf(now))))], cancellationToken);
    }

    private IEnumerable<Measurement<long>> Measure(Func<QuotaUse, long?> value)
    {
        foreach (var app in _windows.Keys)
        {
            foreach (var use in Use(app))
            {
                if (value(use) is { } v)
                {
                    yield return new Measurement<long>(v, new KeyValuePair<string, object?>(AppTag, app), new KeyValuePair<string, object?>(WindowTag, use.Window.Name));
                }
            }
        }
    }
}

/// <summary>A window's count now.</summary>
internal readonly record struct QuotaUse(QuotaWindow Window, long Used)
{
    public long? Limit => Window.Limit;

    /// <summary>The share of the limit used (0 without a limit).</summary>
    public double Share => Window.Limit is { } limit and > 0 ? (double)Used / limit : 0;
}
