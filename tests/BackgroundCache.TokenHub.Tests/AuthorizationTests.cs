using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

public sealed class AuthorizationTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));

    /// <summary>Past the engine's InvalidationCooldown (30 s): a report of a token a report fetched moments ago is answered without a fetch.</summary>
    private static readonly TimeSpan PastCooldown = TimeSpan.FromSeconds(31);

    private WeChatEmulator _emulator = null!;
    private HubHost _hub = null!;

    public async Task InitializeAsync()
    {
        _emulator = await HubHost.StartEmulatorAsync(_time);
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings["TokenHub:InvalidationPermitLimit"] = "2";
        settings["TokenHub:InvalidationWindow"] = "01:00:00";
        _hub = await HubHost.StartAsync(settings, _time);

        // Every first load done, so the upstream call counts below see only what a test causes.
        await _hub.TokenAsync("a", "key-all");
        await _hub.TokenAsync("b", "key-all");
        await _hub.GetJsonAsync("tickets/a", "key-all");
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    [Theory]
    [InlineData(null, "a", HttpStatusCode.Unauthorized)]
    [InlineData("wrong-key", "a", HttpStatusCode.Unauthorized)]
    [InlineData("key-a-but-longer", "a", HttpStatusCode.Unauthorized)]
    [InlineData("key-a", "a", HttpStatusCode.OK)]
    [InlineData("key-a", "b", HttpStatusCode.Forbidden)]
    [InlineData("key-a", "unknown", HttpStatusCode.NotFound)]
    [InlineData("key-b1", "b", HttpStatusCode.OK)]
    [InlineData("key-b2", "b", HttpStatusCode.OK)]
    [InlineData("key-b1", "a", HttpStatusCode.Forbidden)]
    [InlineData("key-b2", "a", HttpStatusCode.Forbidden)]
    [InlineData("key-all", "a", HttpStatusCode.OK)]
    [InlineData("key-all", "b", HttpStatusCode.OK)]
    [InlineData("key-all", "unknown", HttpStatusCode.NotFound)]
    [InlineData(null, "unknown", HttpStatusCode.Unauthorized)]
    public async Task GetToken_PerClientAndApp_AnswersTheMatrix(string? key, string app, HttpStatusCode expected)
    {
        using var response = await _hub.SendAsync(HttpMethod.Get, $"tokens/{app}", key);

        response.StatusCode.Should().Be(expected);
        if (expected == HttpStatusCode.Unauthorized)
        {
            response.Headers.WwwAuthenticate.ToString().Should().Contain("X-Api-Key");
            (await response.Content.ReadAsStringAsync()).Should().NotContain("access_token");
        }
    }

    [Theory]
    [InlineData(null, "a", HttpStatusCode.Unauthorized)]
    [InlineData("wrong-key", "a", HttpStatusCode.Unauthorized)]
    [InlineData("key-a", "a", HttpStatusCode.OK)]
    [InlineData("key-a", "b", HttpStatusCode.Forbidden)]
    [InlineData("key-b2", "a", HttpStatusCode.Forbidden)]
    [InlineData("key-all", "unknown", HttpStatusCode.NotFound)]
    public async Task Invalidate_PerClientAndApp_AnswersTheMatrix(string? key, string app, HttpStatusCode expected)
    {
        var current = await _hub.TokenAsync("a", "key-all");

        using var response = await _hub.SendAsync(HttpMethod.Post, $"tokens/{app}/invalidate", key, new { access_token = current });

        response.StatusCode.Should().Be(expected);
    }

    [Theory]
    [InlineData(null, "a", HttpStatusCode.Unauthorized)]
    [InlineData("key-a", "a", HttpStatusCode.OK)]
    [InlineData("key-b1", "a", HttpStatusCode.Forbidden)]
    [InlineData("key-b1", "b", HttpStatusCode.NotFound)] // b keeps no ticket
    [InlineData("key-all", "unknown", HttpStatusCode.NotFound)]
    public async Task GetTicket_PerClientAndApp_AnswersTheMatrix(string? key, string app, HttpStatusCode expected)
    {
        using var response = await _hub.SendAsync(HttpMethod.Get, $"tickets/{app}", key);

        response.StatusCode.Should().Be(expected);
    }

    [Fact]
    public async Task Forbidden_NamesTheClientAndTheSetting_AndGivesNoToken()
    {
        using var response = await _hub.SendAsync(HttpMethod.Get, "tokens/b", "key-a");

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("error").GetString().Should().Be("app_not_allowed");
        body.GetProperty("detail").GetString().Should().Contain("'ca'").And.Contain("TokenHub:Clients:ca:Apps");
        body.TryGetProperty("access_token", out _).Should().BeFalse();
    }

    [Fact]
    public async Task Invalidate_OverTheClientsLimit_Answers429WithRetryAfter_AndOtherClientsAreNotLimited()
    {
        // Each report below names the token currently served, so each could cost an upstream call: the third is refused.
        for (var i = 0; i < 2; i++)
        {
            var current = await _hub.TokenAsync("a", "key-a");
            _time.Advance(PastCooldown);
            using var ok = await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = current });
            ok.StatusCode.Should().Be(HttpStatusCode.OK);
            (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString().Should().NotBe(current);
        }

        var calls = _emulator.TokenCalls;
        var third = await _hub.TokenAsync("a", "key-a");

        using var limited = await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = third });

        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        limited.Headers.RetryAfter!.Delta!.Value.Should().BePositive().And.BeLessThanOrEqualTo(TimeSpan.FromHours(1));
        _emulator.TokenCalls.Should().Be(calls, "a refused invalidation makes no upstream call");
        (await _hub.TokenAsync("a", "key-a")).Should().Be(third);

        // Another client has its own budget.
        _time.Advance(PastCooldown);
        using var other = await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-all", new { access_token = third });
        other.StatusCode.Should().Be(HttpStatusCode.OK);

        // A stale report (the hub has moved on) costs nothing: the limited client still gets the current token.
        using var stale = await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = third });
        stale.StatusCode.Should().Be(HttpStatusCode.OK);
        (await stale.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString().Should().NotBe(third);
    }

    [Fact]
    public async Task Invalidate_SameTokenReportedManyTimesConcurrently_CostsOnePermitAndOneUpstreamCall()
    {
        var current = await _hub.TokenAsync("a", "key-a");
        var before = _emulator.TokenCalls;

        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = current });
            return response.StatusCode;
        })).WaitAsync(HubHost.Guard);

        statuses.Should().OnlyContain(s => s == HttpStatusCode.OK);
        (_emulator.TokenCalls - before).Should().Be(1);

        // One permit of two was used: one more distinct report passes.
        var next = await _hub.TokenAsync("a", "key-a");
        using var again = await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = next });
        again.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Invalidate_EachReport_IsCountedByClientAppAndOutcome()
    {
        using var collector = new MetricCollector<long>(_hub.App.Services.GetRequiredService<IMeterFactory>(), TokenHubDiagnostics.MeterName, TokenHubDiagnostics.InvalidationsInstrument);
        var current = await _hub.TokenAsync("a", "key-a");

        (await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = current })).Dispose();
        (await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = current })).Dispose();
        (await _hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-all", new { })).Dispose();

        collector.GetMeasurementSnapshot().Select(m => ((string)m.Tags[TokenHubDiagnostics.ClientTag]!, (string)m.Tags["backgroundcache.cache.name"]!, (string)m.Tags[TokenHubDiagnostics.OutcomeTag]!))
            .Should().Equal(("ca", "a", "refreshed"), ("ca", "a", "superseded"), ("all", "a", "invalid"));
    }

    [Fact]
    public async Task Invalidate_BodyOverTheLimit_Is413WithoutACall()
    {
        var before = _emulator.TokenCalls;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_hub.Address, "tokens/a/invalidate"))
        {
            Content = new StringContent("{\"access_token\":\"" + new string('x', 5000) + "\"}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", "key-a");

        using var response = await _hub.Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        _emulator.TokenCalls.Should().Be(before);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("{\"access_token\":\"\"}")]
    public async Task Invalidate_WithoutAToken_IsBadRequest(string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_hub.Address, "tokens/a/invalidate"))
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Api-Key", "key-a");

        using var response = await _hub.Http.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task StatusAndHealth_WithoutRequireApiKeyForStatus_AreOpen()
    {
        using var page = await _hub.SendAsync(HttpMethod.Get, string.Empty, null);
        using var health = await _hub.SendAsync(HttpMethod.Get, "health", null);
        using var status = await _hub.SendAsync(HttpMethod.Get, "status.json", null);

        page.StatusCode.Should().Be(HttpStatusCode.OK);
        health.StatusCode.Should().Be(HttpStatusCode.OK);
        status.StatusCode.Should().Be(HttpStatusCode.OK);
    }
}

public sealed class InvalidationLimitTests
{
    [Fact]
    public async Task Invalidate_AllClientsTogether_AreLimitedPerApp_AndCannotOpenTheWeChatBreaker()
    {
        // Default limits: 3 per client and 4 per app in 10 minutes; WeChat's breaker opens at 6 fetches in 10 minutes.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
        await using var emulator = await HubHost.StartEmulatorAsync(time);
        var settings = HubHost.TwoAppsThreeClients(emulator);
        settings["TokenHub:Clients:ca2:ApiKey"] = "key-a2";
        settings["TokenHub:Clients:ca2:Apps:0"] = "a";
        settings.Remove("TokenHub:Apps:a:JsApiTicket");
        await using var hub = await HubHost.StartAsync(settings, time);
        await hub.TokenAsync("a", "key-all");
        await hub.TokenAsync("b", "key-all");
        var before = emulator.TokenCalls;
        var answers = new List<(string Client, int Status, string? Detail)>();

        foreach (var key in new[] { "key-a", "key-a2", "key-all", "key-a", "key-a2", "key-all", "key-a", "key-a2", "key-all" })
        {
            var current = await hub.TokenAsync("a", key);
            time.Advance(TimeSpan.FromSeconds(31)); // past the engine's InvalidationCooldown
            using var response = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", key, new { access_token = current });
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            answers.Add((key, (int)response.StatusCode, body.TryGetProperty("detail", out var d) ? d.GetString() : null));
        }

        answers.Select(a => a.Status).Should().Equal(200, 200, 200, 200, 429, 429, 429, 429, 429);
        answers[4].Detail.Should().Contain("for app 'a' from all clients");
        (emulator.TokenCalls - before).Should().Be(4, "four invalidations after the first load: five fetches, where the breaker needs six");
        var health = await hub.GetJsonAsync("health", null);
        health.GetProperty("caches").GetProperty("token:a").GetProperty("status").GetString().Should().Be("Healthy");
    }
}

public sealed class StableTokenInvalidationTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Invalidate_SameStableTokenReportedAgainAndAgain_CostsAPermitEachTime_SoUpstreamCallsStayBounded()
    {
        // A stable token is the same after a refresh: each new report of it can cost an upstream call, so each costs a permit.
        await using var emulator = await HubHost.StartEmulatorAsync(_time);
        await using var hub = await StartStableHubAsync(emulator);
        var token = await hub.TokenAsync("a", "key-a");
        await hub.TokenAsync("b", "key-all");
        var before = emulator.TokenCalls;
        var statuses = new List<int>();

        for (var i = 0; i < 6; i++)
        {
            using var response = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = token });
            statuses.Add((int)response.StatusCode);
        }

        statuses.Should().Equal(200, 200, 200, 429, 429, 429);
        (emulator.TokenCalls - before).Should().BeLessThanOrEqualTo(3);
        (await hub.TokenAsync("a", "key-a")).Should().Be(token, "a stable token stays the same");
    }

    [Fact]
    public async Task Invalidate_StableTokenTheIssuerConfirms_AnswersNotReplacedWithTheReason_AndTheVersionStays()
    {
        await using var emulator = await HubHost.StartEmulatorAsync(_time);
        await using var hub = await StartStableHubAsync(emulator);
        var token = await hub.TokenAsync("a", "key-a");
        var before = emulator.TokenCalls;

        using var response = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = token });
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        var status = await hub.GetJsonAsync("status.json", null);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (emulator.TokenCalls - before).Should().Be(1, "the hub asked WeChat once");
        answer.GetProperty("access_token").GetString().Should().Be(token);
        answer.GetProperty("replaced").GetBoolean().Should().BeFalse();
        answer.GetProperty("detail").GetString().Should().StartWith("The issuer confirmed this token");
        var app = status.GetProperty("apps").EnumerateArray().Single(a => a.GetProperty("name").GetString() == "a");
        app.GetProperty("token").GetProperty("version").GetInt64().Should().Be(1, "the value did not change");
    }

    [Fact]
    public async Task Invalidate_ClassicTokenReplaced_AnswersReplacedWithoutDetail()
    {
        await using var emulator = await HubHost.StartEmulatorAsync(_time);
        await using var hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(emulator, mode: "Token"), _time);
        var token = await hub.TokenAsync("b", "key-b1");

        using var response = await hub.SendAsync(HttpMethod.Post, "tokens/b/invalidate", "key-b1", new { access_token = token });
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();

        answer.GetProperty("access_token").GetString().Should().NotBe(token);
        answer.GetProperty("replaced").GetBoolean().Should().BeTrue();
        answer.TryGetProperty("detail", out _).Should().BeFalse();
    }

    [Fact]
    public async Task GetToken_AnswerServedFromItsCache_FollowsTheClockAndTheRefresh()
    {
        await using var emulator = await HubHost.StartEmulatorAsync(_time);
        await using var hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(emulator, mode: "Token"), _time);

        var first = await hub.GetJsonAsync("tokens/b", "key-b1");
        var again = await hub.GetJsonAsync("tokens/b", "key-all");
        _time.Advance(TimeSpan.FromSeconds(1));
        var later = await hub.GetJsonAsync("tokens/b", "key-b2");

        again.GetRawText().Should().Be(first.GetRawText(), "the same second, the same token: the same bytes");
        later.GetProperty("expires_in").GetInt64().Should().Be(first.GetProperty("expires_in").GetInt64() - 1);
        later.GetProperty("access_token").GetString().Should().Be(first.GetProperty("access_token").GetString());

        var token = first.GetProperty("access_token").GetString();
        using var replaced = await hub.SendAsync(HttpMethod.Post, "tokens/b/invalidate", "key-b1", new { access_token = token });
        replaced.StatusCode.Should().Be(HttpStatusCode.OK);
        var afterRefresh = await hub.GetJsonAsync("tokens/b", "key-b1");
        afterRefresh.GetProperty("access_token").GetString().Should().NotBe(token, "a new token is never answered from the old one's bytes");
    }

    /// <summary>Apps a (stable token, no JS-SDK ticket) and b, on <paramref name="emulator"/>.</summary>
    private async Task<HubHost> StartStableHubAsync(WeChatEmulator emulator)
    {
        var settings = HubHost.TwoAppsThreeClients(emulator, mode: "StableToken");
        settings.Remove("TokenHub:Apps:a:JsApiTicket");
        return await HubHost.StartAsync(settings, _time);
    }
}

public sealed class StatusKeyTests
{
    [Fact]
    public async Task StatusAndHealth_WithRequireApiKeyForStatus_NeedAnyClientsKey_HeaderOrBasicPassword()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
        await using var emulator = await HubHost.StartEmulatorAsync(time);
        var settings = HubHost.TwoAppsThreeClients(emulator);
        settings["TokenHub:RequireApiKeyForStatus"] = "true";
        await using var hub = await HubHost.StartAsync(settings, time);
        await hub.TokenAsync("a", "key-all");
        await hub.TokenAsync("b", "key-all");
        await hub.GetJsonAsync("tickets/a", "key-all"); // every cache loaded: /health is Healthy (200), not Unhealthy (503)

        foreach (var path in new[] { string.Empty, "health", "status.json" })
        {
            using var anonymous = await hub.SendAsync(HttpMethod.Get, path, null);
            anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized, path);
            anonymous.Headers.WwwAuthenticate.ToString().Should().StartWith("Basic", "a browser then asks for the key");
            using var wrong = await hub.SendAsync(HttpMethod.Get, path, "wrong");
            wrong.StatusCode.Should().Be(HttpStatusCode.Unauthorized, path);
            using var header = await hub.SendAsync(HttpMethod.Get, path, "key-b2");
            header.StatusCode.Should().Be(HttpStatusCode.OK, path);

            using var basic = new HttpRequestMessage(HttpMethod.Get, new Uri(hub.Address, path));
            basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ops:key-a")));
            using var browser = await hub.Http.SendAsync(basic);
            browser.StatusCode.Should().Be(HttpStatusCode.OK, path);
        }
    }
}
