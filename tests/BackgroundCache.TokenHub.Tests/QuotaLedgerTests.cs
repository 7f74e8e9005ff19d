using System.Text.Json;
using BackgroundCache.Samples.TokenHub;
using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>The quota ledger: upstream calls per app and window, counted on each app's HttpClient.</summary>
public sealed class QuotaLedgerTests : IAsyncLifetime
{
    // 00:00 in China Standard Time, when the issuers' daily quotas reset.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 16, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _wechat = null!;
    private OAuthEmulator _oauth = null!;

    public async Task InitializeAsync()
    {
        _wechat = await HubHost.StartEmulatorAsync(_time);
        _wechat.AddComponent(ProviderTests.ComponentAppId, "platform-secret", ProviderTests.ComponentToken, ProviderTests.EncodingAesKey);
        _oauth = await OAuthEmulator.StartAsync();
        _oauth.AddClient("billing", "billing-secret");
    }

    public async Task DisposeAsync()
    {
        await _oauth.DisposeAsync();
        await _wechat.DisposeAsync();
    }

    [Fact]
    public async Task SimulatedDay_LedgerCountsEqualTheEmulatorsOwnCounts()
    {
        var settings = ProviderTests.ThreeProviders(_wechat, _oauth);
        settings["TokenHub:Apps:wechat:Mode"] = "Token";
        settings["TokenHub:Apps:wechat:ReadIssuerQuota"] = "true";
        await using var hub = await HubHost.StartAsync(settings, _time);
        await ProviderTests.PushTicketAndAuthorizeAsync(_wechat, hub, "wx-authorizer");
        var caches = new[] { "wechat", "platform", "oauth" }.ToDictionary(a => a, a => hub.App.Services.GetRequiredService<Internal.TokenHubCaches>().Token(a)!);

        // A day in 50-minute steps: each app refreshed once or twice per step (before any scheduled refresh is due, so that
        // every call is one the test awaited), 23 h 20 min in all, inside one day of China Standard Time.
        for (var step = 0; step < 28; step++)
        {
            // WeChat pushes a component_verify_ticket every 10 minutes; each lives 12 hours.
            await _wechat.PushComponentVerifyTicketAsync(ProviderTests.ComponentAppId, new Uri(hub.Address, "events/platform"));
            foreach (var cache in caches.Values)
            {
                for (var i = 0; i <= step % 2; i++)
                {
                    await cache.RefreshAsync();
                    _time.Advance(TimeSpan.FromSeconds(31)); // past the engine's refresh cooldown
                }
            }

            _time.Advance(TimeSpan.FromMinutes(50) - (TimeSpan.FromSeconds(31) * 3 * ((step % 2) + 1)));
        }

        var ledger = hub.App.Services.GetRequiredService<QuotaLedger>();
        Day(ledger, "wechat").Should().Be(_wechat.ClassicTokenCalls).And.BeGreaterThan(40);
        Day(ledger, "platform").Should().Be(_wechat.ComponentTokenCalls).And.BeGreaterThan(40);
        Day(ledger, "oauth").Should().Be(_oauth.TokenCalls("billing")).And.BeGreaterThan(40);
        ledger.Use("wechat").Single().Limit.Should().Be(2_000, "WeChat's classic token quota is 2,000 a day");
        ledger.Burn("wechat").Sum().Should().Be(_wechat.ClassicTokenCalls, "the burn chart's 24 hours hold the whole day");

        // WeChat's own count (openapi/quota/get), read once for the page, agrees.
        var status = await hub.GetJsonAsync("status.json", null);
        var day = status.GetProperty("apps").EnumerateArray().Single(a => a.GetProperty("name").GetString() == "wechat")
            .GetProperty("quotas").EnumerateArray().Single(q => q.GetProperty("window").GetString() == "day");
        day.GetProperty("issuer_used").GetInt64().Should().Be(_wechat.ClassicTokenCalls);
        day.GetProperty("used").GetInt64().Should().Be(_wechat.ClassicTokenCalls);
        await hub.GetJsonAsync("status.json", null);
        _wechat.QuotaQueryCalls.Should().Be(1, "the issuer's count is read at most once per 10 minutes");

        // The next day starts from zero.
        _time.Advance(TimeSpan.FromHours(1));
        Day(ledger, "wechat").Should().Be(0);
    }

    [Fact]
    public async Task Health_IsDegradedAt80Percent_AndUnhealthyAt100()
    {
        var settings = ProviderTests.ThreeProviders(_wechat, _oauth);
        settings["TokenHub:Apps:oauth:Quotas:day"] = "10";
        await using var hub = await HubHost.StartAsync(settings, _time);
        var cache = hub.App.Services.GetRequiredService<Internal.TokenHubCaches>().Token("oauth")!;
        using var used = new MetricCollector<long>(hub.App.Services.GetRequiredService<Internal.TokenHubMetrics>().Meter, QuotaLedger.UsedInstrument);
        using var limit = new MetricCollector<long>(hub.App.Services.GetRequiredService<Internal.TokenHubMetrics>().Meter, QuotaLedger.LimitInstrument);

        await RefreshUntilAsync(cache, 7);
        (await QuotaCheckAsync(hub, "oauth")).GetProperty("status").GetString().Should().Be("Healthy");

        await RefreshUntilAsync(cache, 8);
        var degraded = await QuotaCheckAsync(hub, "oauth");
        degraded.GetProperty("status").GetString().Should().Be("Degraded");
        degraded.GetProperty("description").GetString().Should().Contain("8 of 10 calls in its day window (80");

        await RefreshUntilAsync(cache, 10);
        (await QuotaCheckAsync(hub, "oauth")).GetProperty("status").GetString().Should().Be("Unhealthy");

        used.RecordObservableInstruments();
        limit.RecordObservableInstruments();
        used.GetMeasurementSnapshot().Should().Contain(m => m.Value == 10 && (string)m.Tags["app"]! == "oauth" && (string)m.Tags["window"]! == "day");
        limit.GetMeasurementSnapshot().Should().Contain(m => m.Value == 10 && (string)m.Tags["app"]! == "oauth" && (string)m.Tags["window"]! == "day");
        limit.GetMeasurementSnapshot().Should().Contain(m => m.Value == 500_000 && (string)m.Tags["app"]! == "wechat" && (string)m.Tags["window"]! == "day");
    }

    [Fact]
    public async Task Start_WithAnUnknownQuotaWindow_FailsNamingIt()
    {
        var settings = ProviderTests.ThreeProviders(_wechat, _oauth);
        settings["TokenHub:Apps:oauth:Quotas:week"] = "10";
        await using var app = HubHost.Build(settings, _time);

        var thrown = await StartupTests.StartFailureAsync(app);

        StartupTests.Flatten(thrown).Should().Contain(e => e.Message.Contains("TokenHub:Apps:oauth:Quotas:week must name a window"));
    }

    private static long Day(QuotaLedger ledger, string app) => ledger.Use(app).Single(u => u.Window.Name == "day").Used;

    private async Task RefreshUntilAsync(IRefreshingCache<AccessToken> cache, int calls)
    {
        while (_oauth.TokenCalls("billing") < calls)
        {
            await cache.RefreshAsync();
            _time.Advance(TimeSpan.FromSeconds(31));
        }
    }

    private static async Task<JsonElement> QuotaCheckAsync(HubHost hub, string app)
    {
        // The platform app has no ticket here, so /health as a whole is 503: read the app's quota entry.
        using var response = await hub.SendAsync(HttpMethod.Get, "health", null);
        var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return health.GetProperty("caches").GetProperty($"quota:{app}").Clone();
    }
}
