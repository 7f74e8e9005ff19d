using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>The hub's caches, resolved once: a request finds its app's cache with one dictionary lookup.</summary>
internal sealed class TokenHubCaches(IServiceProvider services, TokenHubRegistry registry)
{
    private readonly FrozenDictionary<string, IRefreshingCache<AccessToken>> _tokens = registry.AppNames.ToFrozenDictionary(
        n => n, n => services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(n), StringComparer.Ordinal);

    private readonly FrozenDictionary<string, IRefreshingCache<WeChatJsApiTicket>> _tickets = registry.AppNames.Where(registry.HasTicket).ToFrozenDictionary(
        n => n, n => services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(n), StringComparer.Ordinal);

    public IRefreshingCache<AccessToken>? Token(string app) => _tokens.GetValueOrDefault(app);

    public IRefreshingCache<WeChatJsApiTicket>? Ticket(string app) => _tickets.GetValueOrDefault(app);
}

/// <summary>
/// The per-client invalidation limit: a fixed window of permits per client id (Microsoft's
/// <see cref="PartitionedRateLimiter{TResource}"/>). Only a report that can cause an upstream call costs a permit: a report
/// of the token currently served, the first time this client reports it (concurrent and repeated reports of one token share
/// that permit, as they share the hub's one refresh). A stale report (the hub has moved on) is answered at no cost.
/// </summary>
internal sealed class InvalidationLimiter(PartitionedRateLimiter<string> limiter, TimeProvider time, TimeSpan window) : IDisposable
{
    private const int SweepAbove = 4096;
    private readonly ConcurrentDictionary<(string Client, string Report), Lazy<Decision>> _reports = new();

    public PartitionedRateLimiter<string> Limiter { get; } = limiter;

    /// <summary>Decides whether <paramref name="client"/> may report <paramref name="token"/> of <paramref name="app"/> now.</summary>
    /// <returns>Null when allowed; otherwise how long to wait.</returns>
    public TimeSpan? TryAcquire(string client, string app, string token)
    {
        var now = time.GetUtcNow();
        var key = (client, Fingerprint(app, token));
        while (true)
        {
            var decision = _reports.GetOrAdd(key, _ => new Lazy<Decision>(() => Decide(client, now)));
            var value = decision.Value;
            if (value.Until > now)
            {
                return value.RetryAfter;
            }

            // Expired: this report counts again (once more, for everybody racing here).
            _reports.TryRemove(KeyValuePair.Create(key, decision));
            if (_reports.Count > SweepAbove)
            {
                Sweep(now);
            }
        }
    }

    public void Dispose() => Limiter.Dispose();

    private Decision Decide(string client, DateTimeOffset now)
    {
        using var lease = Limiter.AttemptAcquire(client);
        if (lease.IsAcquired)
        {
            return new Decision(null, now + window);
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : window;
        return new Decision(retryAfter, now + retryAfter);
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var entry in _reports)
        {
            if (entry.Value.IsValueCreated && entry.Value.Value.Until <= now)
            {
                _reports.TryRemove(entry);
            }
        }
    }

    private static string Fingerprint(string app, string token) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(app + "\n" + token)), 0, 16);

    private readonly record struct Decision(TimeSpan? RetryAfter, DateTimeOffset Until);
}
