using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.StackExchangeRedis.Tests;
using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>Two hubs behind a load balancer, on one real redis-server: one refresher for both.</summary>
public sealed class RedisHubTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private readonly List<HubHost> _hubs = [];
    private RedisServer? _redis;
    private WeChatEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await HubHost.StartEmulatorAsync(_time);

    public async Task DisposeAsync()
    {
        foreach (var hub in _hubs)
        {
            await hub.DisposeAsync();
        }

        await _emulator.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task TwoHubsOnOneRedis_KeepOneQuotaLedger()
    {
        var (first, second) = await StartTwoHubsAsync();
        await first.TokenAsync("a", "key-a");
        await second.TokenAsync("b", "key-b1");

        // Each hub makes calls of its own (a refresh is made by the hub it is asked of).
        foreach (var hub in new[] { first, second, second })
        {
            await hub.App.Services.GetRequiredService<Internal.TokenHubCaches>().Token("a")!.RefreshAsync();
            _time.Advance(TimeSpan.FromSeconds(31));
        }

        foreach (var hub in new[] { first, second })
        {
            var ledger = hub.App.Services.GetRequiredService<QuotaLedger>();
            await ledger.RefreshAsync(CancellationToken.None);
            var calls = ledger.Use("a").Single(u => u.Window.Name == "day").Used + ledger.Use("b").Single(u => u.Window.Name == "day").Used;
            calls.Should().Be(_emulator.TokenCalls, "both hubs read one ledger, which counts every hub's calls").And.BeGreaterThanOrEqualTo(4);
        }
    }

    [SkippableFact]
    public async Task TwoHubsOnOneRedis_ServeOneTokenFromOneUpstreamCall_AndAnInvalidationAtEitherRefreshesOnce()
    {
        var (first, second) = await StartTwoHubsAsync();

        var tokens = new[]
        {
            await first.TokenAsync("a", "key-a"), await second.TokenAsync("a", "key-a"),
            await first.TokenAsync("b", "key-b1"), await second.TokenAsync("b", "key-b1"),
        };

        tokens[0].Should().Be(tokens[1]);
        tokens[2].Should().Be(tokens[3]);
        _emulator.TokenCalls.Should().Be(2, "one upstream call per app for both hubs");
        (await first.GetJsonAsync("status.json", null)).GetProperty("redis_coordinated").GetBoolean().Should().BeTrue();

        // A business server behind the load balancer reports app a's token at the second hub.
        using var report = await second.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = tokens[0] });
        report.StatusCode.Should().Be(HttpStatusCode.OK);
        var replacement = (await report.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString();

        replacement.Should().NotBe(tokens[0]);
        _emulator.TokenCalls.Should().Be(3, "the invalidation refreshed once, for both hubs");
        (await EventuallyAsync(() => first.TokenAsync("a", "key-a"), t => t == replacement)).Should().Be(replacement);
        _emulator.ValidateAccessToken(replacement).Should().Be(0);
        _emulator.TokenCalls.Should().Be(3);
    }

    [SkippableFact]
    public async Task TwoHubsOnOneRedis_ShareTheJsApiTicket_OneTicketCall()
    {
        _redis = await RedisServer.StartAsync();
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings["TokenHub:Apps:a:JsApiTicket"] = "true";
        settings["TokenHub:Redis"] = _redis.Configuration;
        settings["TokenHub:RedisKeyPrefix"] = $"test:{Guid.NewGuid():N}:";
        var first = await StartHubAsync(settings);
        var second = await StartHubAsync(settings);

        var fromFirst = (await first.GetJsonAsync("tickets/a", "key-a")).GetRawText();
        var fromSecond = (await second.GetJsonAsync("tickets/a", "key-a")).GetRawText();

        fromSecond.Should().Be(fromFirst, "the ticket is coordinated like the token: one refresher for both hubs");
        _emulator.TicketCalls.Should().Be(1);
        (await first.GetJsonAsync("health", null)).GetRawText().Should().Contain("backgroundcache-redis:a");
    }

    private async Task<HubHost> StartHubAsync(Dictionary<string, string?> settings)
    {
        var hub = await HubHost.StartAsync(settings, _time);
        _hubs.Add(hub);
        return hub;
    }

    /// <summary>Reads until the condition holds (the follower applies the leader's notification), bounded by the guard.</summary>
    /// <summary>Two hubs of apps a and b (no ticket) on one new redis-server.</summary>
    private async Task<(HubHost First, HubHost Second)> StartTwoHubsAsync()
    {
        _redis = await RedisServer.StartAsync();
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings.Remove("TokenHub:Apps:a:JsApiTicket");
        settings["TokenHub:Redis"] = _redis.Configuration;
        settings["TokenHub:RedisKeyPrefix"] = $"test:{Guid.NewGuid():N}:";
        return (await StartHubAsync(settings), await StartHubAsync(settings));
    }

    private static async Task<string> EventuallyAsync(Func<Task<string>> read, Func<string, bool> condition)
    {
        using var guard = new CancellationTokenSource(HubHost.Guard);
        while (true)
        {
            var value = await read();
            if (condition(value) || guard.IsCancellationRequested)
            {
                return value;
            }

            await Task.Yield();
        }
    }
}
