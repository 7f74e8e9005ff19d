using System.Diagnostics.Metrics;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>The hub's meter, one per service provider (through <see cref="IMeterFactory"/> when registered).</summary>
internal sealed class TokenHubMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _invalidations;

    public TokenHubMetrics(IMeterFactory? meterFactory = null)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(TokenHubDiagnostics.MeterName) ?? new Meter(TokenHubDiagnostics.MeterName);
        _invalidations = _meter.CreateCounter<long>(TokenHubDiagnostics.InvalidationsInstrument, "{report}", "Invalidation reports received, by client, app and outcome.");
    }

    /// <summary>Gets the hub's meter (the quota ledger's gauges are on it too).</summary>
    public Meter Meter => _meter;

    public void Invalidation(string client, string app, string outcome) => _invalidations.Add(
        1,
        new KeyValuePair<string, object?>(TokenHubDiagnostics.ClientTag, client),
        new KeyValuePair<string, object?>(BackgroundCacheDiagnostics.CacheNameTag, app),
        new KeyValuePair<string, object?>(TokenHubDiagnostics.OutcomeTag, outcome));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
