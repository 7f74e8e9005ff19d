using System.Collections.Concurrent;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>
/// The issuer's own count of an app's calls today, where the issuer tells it and the app asks for it
/// (WeChat: <c>/cgi-bin/openapi/quota/get</c> with <c>TokenHub:Apps:{name}:ReadIssuerQuota=true</c>). Read when the status
/// page, <c>status.json</c> or <c>/health</c> is served, at most once per <see cref="Interval"/> per app (the query has a
/// quota of its own); a failed read keeps the last count.
/// </summary>
internal sealed class IssuerQuota(IServiceProvider services, TokenHubRegistry registry, TimeProvider time)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, (DateTimeOffset ReadAt, IssuerCount? Count)> _counts = new(StringComparer.Ordinal);

    public IssuerCount? Get(string app) => _counts.TryGetValue(app, out var entry) ? entry.Count : null;

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var app in registry.AppNames)
        {
            var provider = registry.Provider(app);
            if (!provider.ReadsIssuerQuota(registry.Section(app)) || (_counts.TryGetValue(app, out var last) && now - last.ReadAt < Interval))
            {
                continue;
            }

            // Claimed before the call, so that concurrent page loads ask the issuer once.
            var previous = _counts.GetValueOrDefault(app).Count;
            _counts[app] = (now, previous);
            try
            {
                _counts[app] = (now, await provider.ReadIssuerQuotaAsync(services, app, cancellationToken).ConfigureAwait(false) ?? previous);
            }
            catch (Exception ex) when (ex is HttpRequestException or CacheValueUnavailableException or System.Text.Json.JsonException or TaskCanceledException)
            {
                // The last count stays shown; the ledger's own count does not depend on this read.
            }
        }
    }
}

/// <summary>What the issuer says of an app's calls today.</summary>
internal sealed record IssuerCount(long Used, long Limit);
