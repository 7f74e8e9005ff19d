using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary><c>POST /tokens/{name}/invalidate?force=true</c>: a new stable token for clients that may, within 20 a day.</summary>
public sealed class ForceRefreshTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 16, 0, 0, TimeSpan.Zero)); // 00:00 CST
    private WeChatEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await HubHost.StartEmulatorAsync(_time);

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    [Fact]
    public async Task Force_ReplacesTheStableToken_TwentyTimesADay_ForClientsThatMay()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator, mode: "StableToken");
        settings["TokenHub:Clients:all:CanForceRefresh"] = "true";
        await using var hub = await HubHost.StartAsync(settings, _time);
        var token = await hub.TokenAsync("a", "key-all");

        using (var refused = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate?force=true", "key-a"))
        {
            refused.StatusCode.Should().Be(HttpStatusCode.Forbidden, "client ca reads app a but may not force a refresh");
            (await refused.Content.ReadAsStringAsync()).Should().Contain("CanForceRefresh");
        }

        for (var i = 0; i < 20; i++)
        {
            _time.Advance(TimeSpan.FromMinutes(2.5)); // WeChat: 30 s apart; the app's fetch breaker: under 6 fetches in 10 minutes
            using var forced = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate?force=true", "key-all");
            forced.StatusCode.Should().Be(HttpStatusCode.OK, $"forced refresh {i + 1} is within the budget");
            var replacement = (await forced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString();
            replacement.Should().NotBe(token);
            token = replacement;
        }

        _time.Advance(TimeSpan.FromMinutes(2.5));
        using var over = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate?force=true", "key-all");
        over.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        over.Headers.RetryAfter!.Delta.Should().BeCloseTo(TimeSpan.FromHours(24) - TimeSpan.FromMinutes(2.5 * 21), TimeSpan.FromSeconds(1), "the budget resets at midnight CST");
        _emulator.ForcedRefreshCalls.Should().Be(20);
        (await hub.TokenAsync("a", "key-all")).Should().Be(token);

        var ledger = hub.App.Services.GetRequiredService<QuotaLedger>();
        ledger.Use("a").Single(u => u.Window.Name == "force_refresh_day").Should().Match<QuotaUse>(u => u.Used == 20 && u.Limit == 20);
    }

    [Fact]
    public async Task Force_OnAClassicTokenApp_IsABadRequest()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator, mode: "Token");
        settings["TokenHub:Clients:all:CanForceRefresh"] = "true";
        await using var hub = await HubHost.StartAsync(settings, _time);

        using var response = await hub.SendAsync(HttpMethod.Post, "tokens/b/invalidate?force=true", "key-all");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        _emulator.ForcedRefreshCalls.Should().Be(0);
    }
}
