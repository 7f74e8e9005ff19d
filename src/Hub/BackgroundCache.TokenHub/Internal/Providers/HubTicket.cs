namespace BackgroundCache.TokenHub.Internal.Providers;

/// <summary>
/// An app's JS-SDK ticket as the hub serves it, whatever the provider's ticket type (WeChat's, WeCom's): read it, sign a
/// page with it, and show its cache on the page.
/// </summary>
internal abstract class HubTicket
{
    public abstract RefreshingCacheStatus Status { get; }

    /// <summary>The current ticket's fingerprint, when one is loaded.</summary>
    public abstract string? Fingerprint { get; }

    /// <summary>The current ticket (loading it when none is).</summary>
    public abstract ValueTask<(string Value, DateTimeOffset ExpiresAt)> GetAsync(CancellationToken cancellationToken);

    /// <summary>The JS-SDK signature of <paramref name="url"/> (its fragment already stripped) with the current ticket.</summary>
    public abstract ValueTask<string> SignAsync(string nonce, long timestamp, string url, CancellationToken cancellationToken);

    public static HubTicket Of<T>(IRefreshingCache<T> cache, Func<T, string> value, Func<T, DateTimeOffset> expiresAt, Func<T, string, long, string, string> sign) =>
        new Typed<T>(cache, value, expiresAt, sign);

    private sealed class Typed<T>(IRefreshingCache<T> cache, Func<T, string> value, Func<T, DateTimeOffset> expiresAt, Func<T, string, long, string, string> sign) : HubTicket
    {
        public override RefreshingCacheStatus Status => cache.Status;

        public override string? Fingerprint => cache.TryGetValue(out var ticket) ? AccessToken.ComputeFingerprint(value(ticket)) : null;

        public override async ValueTask<(string Value, DateTimeOffset ExpiresAt)> GetAsync(CancellationToken cancellationToken)
        {
            var ticket = await CurrentAsync(cancellationToken).ConfigureAwait(false);
            return (value(ticket), expiresAt(ticket));
        }

        public override async ValueTask<string> SignAsync(string nonce, long timestamp, string url, CancellationToken cancellationToken) =>
            sign(await CurrentAsync(cancellationToken).ConfigureAwait(false), nonce, timestamp, url);

        private async ValueTask<T> CurrentAsync(CancellationToken cancellationToken) =>
            cache.TryGetValue(out var current) ? current : await cache.GetAsync(cancellationToken).ConfigureAwait(false);
    }
}
