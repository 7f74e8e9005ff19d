using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The recent refreshes of the hub's caches (time, app, token or ticket, outcome, duration), for the status page. Listens to the
/// <c>backgroundcache.refresh.duration</c> histogram of this host's <c>BackgroundCache</c> meter (the core's public
/// diagnostics), so it sees exactly what metrics exporters see.
/// </summary>
internal sealed class RefreshTimeline : IDisposable
{
    private const string DurationInstrument = "backgroundcache.refresh.duration";
    private readonly TimeProvider _time;
    private readonly TokenHubRegistry _registry;
    private readonly object? _scope;
    private readonly IOptions<TokenHubServerOptions> _options;
    private int _capacity;
    private readonly Queue<TimelineEntry> _entries = new();
    private readonly Lock _lock = new();
    private MeterListener? _listener;

    public RefreshTimeline(TimeProvider time, TokenHubRegistry registry, IOptions<TokenHubServerOptions> options, IMeterFactory? meterFactory = null)
    {
        _time = time;
        _registry = registry;
        _scope = meterFactory;
        _options = options; // read at Start, after the host validated it
    }

    public void Start()
    {
        _capacity = _options.Value.TimelineLength;
        if (_listener is not null || _capacity == 0)
        {
            return;
        }

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                // Only this host's meter (created through its IMeterFactory): other hosts in the process are not ours.
                if (instrument.Meter.Name == BackgroundCacheDiagnostics.MeterName && instrument.Name == DurationInstrument
                    && (_scope is null || ReferenceEquals(instrument.Meter.Scope, _scope)))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<double>(OnMeasurement);
        _listener.Start();
    }

    public IReadOnlyList<TimelineEntry> Snapshot()
    {
        lock (_lock)
        {
            return [.. _entries.Reverse()];
        }
    }

    public void Dispose() => _listener?.Dispose();

    private void OnMeasurement(Instrument instrument, double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        string? name = null;
        string? outcome = null;
        string? type = null;
        foreach (var tag in tags)
        {
            if (tag.Key == BackgroundCacheDiagnostics.CacheNameTag)
            {
                name = tag.Value as string;
            }
            else if (tag.Key == BackgroundCacheDiagnostics.OutcomeTag)
            {
                outcome = tag.Value as string;
            }
            else if (tag.Key == BackgroundCacheDiagnostics.ValueTypeTag)
            {
                type = tag.Value as string;
            }
        }

        if (name is null || !_registry.IsApp(name))
        {
            return;
        }

        // The same names as the apps table's "cache" column.
        var cache = type switch
        {
            nameof(AccessToken) => "token",
            nameof(BackgroundCache.WeChat.WeChatJsApiTicket) => "jsapi_ticket",
            _ => type ?? "unknown",
        };
        var entry = new TimelineEntry(_time.GetUtcNow(), name, cache, outcome ?? "unknown", Math.Round(seconds * 1000, 1));
        lock (_lock)
        {
            _entries.Enqueue(entry);
            while (_entries.Count > _capacity)
            {
                _entries.Dequeue();
            }
        }
    }
}
