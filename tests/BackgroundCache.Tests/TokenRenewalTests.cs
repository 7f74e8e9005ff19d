using BackgroundCache.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests;

public sealed class TokenRenewalTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    // A 2-hour token renewed only inside its last 30 minutes: a refresh inside the window at 10 minutes ahead costs
    // 24 h / 110 min = 13 calls; a lead longer than the window waits for the window to open (24 h / 90.5 min = 16 calls,
    // the fewest an issuer that renews no earlier allows), where the lead alone fetched the same token again and again
    // (30 calls). The undeclared rule shows that trap.
    [Theory]
    [InlineData(10, true, 13)]
    [InlineData(45, true, 16)]
    [InlineData(45, false, 30)]
    public async Task SimulatedDay_FeishuLikeSameUntilWindow_CallsAsTheWindowAllowsAndEveryTokenValid(int leadMinutes, bool declared, int expectedCalls)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var issuer = new WindowedIssuer(time, TimeSpan.FromMinutes(30), declared);
        await using var h = await StartAsync(time, issuer, TimeSpan.FromMinutes(leadMinutes));
        var start = time.GetUtcNow();
        var expired = 0;

        while (time.GetUtcNow() < start.AddDays(1))
        {
            h.Cache.TryGetValue(out var token).Should().BeTrue();
            if (!issuer.IsValid(token!.Value))
            {
                expired++;
            }

            await h.Probe.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        issuer.Calls.Should().BeInRange(expectedCalls - 1, expectedCalls + 1);
        expired.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task Status_LeadLongerThanWindow_SaysItWaitsForTheIssuersWindow()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var issuer = new WindowedIssuer(time, TimeSpan.FromMinutes(30));
        await using var h = await StartAsync(time, issuer, TimeSpan.FromMinutes(45));

        var status = h.Cache.Status;

        status.WaitingForRenewalWindow.Should().BeTrue();
        status.NextRefreshAt.Should().BeAfter(status.ExpiresAt!.Value - TimeSpan.FromMinutes(30));
        status.NextRefreshAt.Should().BeOnOrBefore(status.ExpiresAt.Value - TimeSpan.FromMinutes(29));
        status.ToString().Should().Contain("waiting for the issuer's renewal window");
    }

    [Fact]
    public async Task Status_LeadInsideWindowOrUndeclaredRule_DoesNotWaitForAWindow()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        await using var inside = await StartAsync(time, new WindowedIssuer(time, TimeSpan.FromMinutes(30)), TimeSpan.FromMinutes(10));
        await using var undeclared = await StartAsync(time, new WindowedIssuer(time, TimeSpan.FromMinutes(30), declare: false), TimeSpan.FromMinutes(45));

        inside.Cache.Status.WaitingForRenewalWindow.Should().BeFalse();
        (inside.Cache.Status.ExpiresAt - inside.Cache.Status.NextRefreshAt).Should().BeCloseTo(TimeSpan.FromMinutes(10.25), TimeSpan.FromSeconds(16));
        undeclared.Cache.Status.WaitingForRenewalWindow.Should().BeFalse();
        (undeclared.Cache.Status.ExpiresAt - undeclared.Cache.Status.NextRefreshAt).Should().BeCloseTo(TimeSpan.FromMinutes(45.25), TimeSpan.FromSeconds(16));
    }

    [Fact]
    public async Task TokenCacheSet_KeyedSourceDeclaringAWindow_EachKeyWaitsForIt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var builder = CacheHarness<AccessToken>.CreateBuilder(time);
        builder.Services.AddSingleton(new KeyedWindowedIssuer(new WindowedIssuer(time, TimeSpan.FromMinutes(30))));
        builder.Services.AddTokenCacheSet<string, KeyedWindowedIssuer>("tenants");
        builder.Services.Configure<RefreshingCacheOptions>("tenants", o => o.RefreshBeforeExpiry = TimeSpan.FromMinutes(45));
        using var host = builder.Build();
        await host.StartAsync();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>("tenants");

        var token = await set.GetAsync("a").AsTask().WaitAsync(Guard);

        var status = set.GetOrAdd("a").Status;
        status.WaitingForRenewalWindow.Should().BeTrue();
        status.NextRefreshAt.Should().BeAfter(token.ExpiresAt - TimeSpan.FromMinutes(30));
        await host.StopAsync();
    }

    [Fact]
    public void TokenRenewal_Rules_DescribeThemselvesAndRejectAnEmptyWindow()
    {
        TokenRenewal.SameUntilWindow(TimeSpan.FromMinutes(5)).ToString().Should().Be("SameUntilWindow(00:05:00)");
        TokenRenewal.SameUntilWindow(TimeSpan.FromMinutes(5)).Should().Be(TokenRenewal.SameUntilWindow(TimeSpan.FromMinutes(5)));
        TokenRenewal.ReplacesOnFetch.Kind.Should().Be(TokenRenewalKind.ReplacesOnFetch);
        TokenRenewal.ExtendedOnFetch.Window.Should().Be(TimeSpan.Zero);
        FluentActions.Invoking(() => TokenRenewal.SameUntilWindow(TimeSpan.Zero)).Should().Throw<ArgumentOutOfRangeException>();
    }

    private static async Task<Running> StartAsync(FakeTimeProvider time, ITokenSource issuer, TimeSpan lead)
    {
        var builder = CacheHarness<AccessToken>.CreateBuilder(time);
        builder.Services.AddTokenCache("feishu", _ => issuer, o => o.RefreshBeforeExpiry = lead);
        var host = builder.Build();
        var running = new Running(host, time);
        await host.StartAsync();
        await running.Probe.WaitIdleAsync();
        return running;
    }

    private sealed class Running(Microsoft.Extensions.Hosting.IHost host, FakeTimeProvider time) : IAsyncDisposable
    {
        public RefresherProbe<AccessToken> Probe { get; } = new(host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>("feishu"), time);

        public IRefreshingCache<AccessToken> Cache { get; } = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("feishu");

        public async ValueTask DisposeAsync()
        {
            using var cts = new CancellationTokenSource(Guard);
            await host.StopAsync(cts.Token);
            host.Dispose();
            Probe.Dispose();
        }
    }

    /// <summary>
    /// Feishu's rule: a 2-hour token, the same one while at least <c>window</c> remains, a new one inside the window (the old
    /// one stays valid until its own expiry).
    /// </summary>
    private sealed class WindowedIssuer(TimeProvider time, TimeSpan window, bool declare = true) : ITokenSource, ITokenRenewalRule
    {
        private readonly Dictionary<string, DateTimeOffset> _issued = [];
        private AccessToken? _current;
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public TokenRenewal Renewal => declare ? TokenRenewal.SameUntilWindow(window) : TokenRenewal.ReplacesOnFetch;

        public bool IsValid(string value)
        {
            lock (_issued)
            {
                return _issued.TryGetValue(value, out var expiresAt) && expiresAt > time.GetUtcNow();
            }
        }

        public ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            var now = time.GetUtcNow();
            lock (_issued)
            {
                if (_current is null || _current.ExpiresAt - now < window)
                {
                    _current = new AccessToken($"t-{Calls}", now.AddHours(2));
                    _issued[_current.Value] = _current.ExpiresAt;
                }

                return ValueTask.FromResult(_current);
            }
        }
    }

    private sealed class KeyedWindowedIssuer(WindowedIssuer issuer) : IKeyedTokenSource<string>, ITokenRenewalRule
    {
        public TokenRenewal Renewal => issuer.Renewal;

        public ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken) => issuer.GetTokenAsync(cancellationToken);
    }
}
