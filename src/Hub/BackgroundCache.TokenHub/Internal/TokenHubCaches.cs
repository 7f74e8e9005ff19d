using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using BackgroundCache.TokenHub.Internal.Providers;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>The hub's caches, resolved once: a request finds its app's cache with one dictionary lookup.</summary>
internal sealed class TokenHubCaches(IServiceProvider services, TokenHubRegistry registry)
{
    private readonly FrozenDictionary<string, IRefreshingCache<AccessToken>> _tokens = registry.AppNames.ToFrozenDictionary(
        n => n, n => registry.Provider(n).Token(services, n), StringComparer.Ordinal);

    private readonly FrozenDictionary<string, IRefreshingCacheSet<string, AccessToken>> _authorizers = registry.AppNames
        .Select(n => (Name: n, Set: registry.Provider(n).Authorizers(services, n)))
        .Where(a => a.Set is not null)
        .ToFrozenDictionary(a => a.Name, a => a.Set!, StringComparer.Ordinal);

    private readonly FrozenDictionary<string, HubTicket> _tickets = registry.AppNames.Where(registry.HasTicket).ToFrozenDictionary(
        n => n, n => registry.Provider(n).Ticket(services, n)!, StringComparer.Ordinal);

    public IRefreshingCache<AccessToken>? Token(string app) => _tokens.GetValueOrDefault(app);

    public HubTicket? Ticket(string app) => _tickets.GetValueOrDefault(app);

    public IRefreshingCacheSet<string, AccessToken>? Authorizers(string app) => _authorizers.GetValueOrDefault(app);
}

/// <summary>
/// The invalidation limits: a fixed window of permits per client id and another per app across all clients (Microsoft's
/// <see cref="PartitionedRateLimiter{TResource}"/>), the app's set below the WeChat breaker so that no client, nor all of
/// them together, can trip it. Only a report that can cause an upstream call costs permits: a report of the token currently
/// served. Reports of one token that arrive while the refresh it caused runs share that report's permits, as they share the
/// refresh; once it has ended (<see cref="Release"/>), a new report of the same token (a stable token is the same after a
/// refresh) costs permits again. A stale report (the hub has moved on) is answered at no cost.
/// </summary>
internal sealed class InvalidationLimiter(
    PartitionedRateLimiter<string> perClient,
    PartitionedRateLimiter<string> perApp,
    TimeProvider time,
    TimeSpan window) : IDisposable
{
    private const int SweepAbove = 4096;
    private readonly ConcurrentDictionary<(string Partition, string Report), Lazy<Decision>> _clientReports = new();
    private readonly ConcurrentDictionary<(string Partition, string Report), Lazy<Decision>> _appReports = new();

    /// <summary>Decides whether <paramref name="client"/> may report <paramref name="token"/> of <paramref name="app"/> now.</summary>
    /// <returns>Null when allowed; otherwise how long to wait and whether the app's limit (not the client's) refused it.</returns>
    public (TimeSpan RetryAfter, bool AppLimit)? TryAcquire(string client, string app, string token)
    {
        var report = Fingerprint(app, token);
        if (Decide(_clientReports, perClient, client, report) is { } clientWait)
        {
            return (clientWait, false);
        }

        return Decide(_appReports, perApp, app, report) is { } appWait ? (appWait, true) : null;
    }

    /// <summary>Ends the sharing of an allowed report's permits: its refresh is over.</summary>
    public void Release(string client, string app, string token)
    {
        var report = Fingerprint(app, token);
        RemoveAllowed(_clientReports, (client, report));
        RemoveAllowed(_appReports, (app, report));
    }

    public void Dispose()
    {
        perClient.Dispose();
        perApp.Dispose();
    }

    private TimeSpan? Decide(ConcurrentDictionary<(string, string), Lazy<Decision>> reports, PartitionedRateLimiter<string> limiter, string partition, string report)
    {
        var now = time.GetUtcNow();
        var key = (partition, report);
        while (true)
        {
            var decision = reports.GetOrAdd(key, _ => new Lazy<Decision>(() => Acquire(limiter, partition, now)));
            var value = decision.Value;
            if (value.Until > now)
            {
                return value.RetryAfter;
            }

            // Expired: this report counts again (once more, for everybody racing here).
            reports.TryRemove(KeyValuePair.Create(key, decision));
            if (reports.Count > SweepAbove)
            {
                Sweep(reports, now);
            }
        }
    }

    private static void RemoveAllowed(ConcurrentDictionary<(string, string), Lazy<Decision>> reports, (string, string) key)
    {
        // A refused report stays refused until its Retry-After; an allowed one is shared only while its refresh runs.
        if (reports.TryGetValue(key, out var decision) && decision.IsValueCreated && decision.Value.RetryAfter is null)
        {
            reports.TryRemove(KeyValuePair.Create(key, decision));
        }
    }

    private Decision Acquire(PartitionedRateLimiter<string> limiter, string partition, DateTimeOffset now)
    {
        using var lease = limiter.AttemptAcquire(partition);
        if (lease.IsAcquired)
        {
            return new Decision(null, now + window);
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : window;
        return new Decision(retryAfter, now + retryAfter);
    }

    private static void Sweep(ConcurrentDictionary<(string, string), Lazy<Decision>> reports, DateTimeOffset now)
    {
        foreach (var entry in reports)
        {
            if (entry.Value.IsValueCreated && entry.Value.Value.Until <= now)
            {
                reports.TryRemove(entry);
            }
        }
    }

    private static string Fingerprint(string app, string token) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(app + "\n" + token)), 0, 16);

    private readonly record struct Decision(TimeSpan? RetryAfter, DateTimeOffset Until);
}

/// <summary>The per-client limit of JS-SDK signatures (no upstream call, but each one reads the ticket: keep it bounded).</summary>
internal sealed class SignatureLimiter(PartitionedRateLimiter<string> perClient) : IDisposable
{
    /// <summary>Null when allowed; otherwise how long to wait.</summary>
    public TimeSpan? TryAcquire(string client)
    {
        using var lease = perClient.AttemptAcquire(client);
        return lease.IsAcquired ? null : lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
    }

    public void Dispose() => perClient.Dispose();
}
