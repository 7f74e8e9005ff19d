using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.Samples.TokenHub;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Samples.Tests;

public sealed class TokenHubTests : IAsyncLifetime
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private readonly HttpClient _http = new();
    private WebApplication? _hub;
    private WeChatEmulator _emulator = null!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_hub is not null)
        {
            await _hub.StopAsync();
            await _hub.DisposeAsync();
        }
    }

    [Fact]
    public async Task Start_InProductionWithNoAppsAndNoClients_RefusesNamingTokenHubAppsAndClients()
    {
        // README: ASPNETCORE_ENVIRONMENT=Production dotnet run --no-launch-profile --project samples/BackgroundCache.Samples.TokenHub
        var web = await TokenHubApp.BuildAsync(["--environment", "Production"], _time, b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = "http://127.0.0.1:0" });
        });
        await using (web)
        {
            var act = () => web.StartAsync();

            var thrown = (await act.Should().ThrowAsync<OptionsValidationException>()).Which;
            thrown.Failures.Should().Contain(f => f.StartsWith("TokenHub:Apps must list at least one WeChat app", StringComparison.Ordinal))
                .And.Contain(f => f.StartsWith("TokenHub:Clients must configure at least one client", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task GetToken_WithApiKey_ReturnsATokenTheEmulatorAccepts()
    {
        await StartAsync();

        var body = await GetJsonAsync("tokens/demo", SampleHosts.ApiKey);

        var token = body.GetProperty("access_token").GetString();
        _emulator.ValidateAccessToken(token).Should().Be(0);
        body.GetProperty("expires_at").GetDateTimeOffset().Should().Be(_time.GetUtcNow().AddSeconds(7200));
        body.GetProperty("expires_in").GetInt64().Should().Be(7200);
    }

    [Theory]
    [InlineData(null, "tokens/demo", HttpStatusCode.Unauthorized)]
    [InlineData("wrong-key", "tokens/demo", HttpStatusCode.Unauthorized)]
    [InlineData(SampleHosts.ApiKey, "tokens/unknown", HttpStatusCode.NotFound)]
    [InlineData(null, "tickets/demo", HttpStatusCode.Unauthorized)]
    [InlineData(SampleHosts.ApiKey, "tickets/demo", HttpStatusCode.OK)]
    public async Task Endpoints_ApiKeyAndName_AreChecked(string? key, string path, HttpStatusCode expected)
    {
        await StartAsync();

        using var response = await SendAsync(HttpMethod.Get, path, key);

        response.StatusCode.Should().Be(expected);
    }

    [Fact]
    public async Task Invalidate_HundredConcurrentCallsWithSameToken_CauseOneUpstreamCall()
    {
        await StartAsync(mode: "Token");
        var token = (await GetJsonAsync("tokens/demo", SampleHosts.ApiKey)).GetProperty("access_token").GetString()!;
        var before = _emulator.TokenCalls;

        var answers = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
        {
            using var response = await SendAsync(HttpMethod.Post, "tokens/demo/invalidate", SampleHosts.ApiKey, new { access_token = token });
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString();
        }))).WaitAsync(Guard);

        (_emulator.TokenCalls - before).Should().Be(1);
        answers.Should().OnlyContain(a => a == answers[0]).And.NotContain(token);
        _emulator.ValidateAccessToken(answers[0]).Should().Be(0);
    }

    [Fact]
    public async Task Invalidate_WithoutToken_IsBadRequest()
    {
        await StartAsync();

        using var response = await SendAsync(HttpMethod.Post, "tokens/demo/invalidate", SampleHosts.ApiKey, new { });

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Health_ReportsEachCachesStateAgeNextRefreshAndFailures()
    {
        await StartAsync();
        await GetJsonAsync("tokens/demo", SampleHosts.ApiKey);
        await GetJsonAsync("tickets/demo", SampleHosts.ApiKey);

        var health = await GetJsonAsync("health", null);

        health.GetProperty("status").GetString().Should().Be("Healthy");
        var token = health.GetProperty("caches").GetProperty("token:demo");
        token.GetProperty("status").GetString().Should().Be("Healthy");
        var data = token.GetProperty("data");
        data.GetProperty("state").GetString().Should().Be("Fresh");
        data.GetProperty("consecutiveFailures").GetInt32().Should().Be(0);
        data.TryGetProperty("ageSeconds", out _).Should().BeTrue();
        data.GetProperty("nextRefreshAt").GetDateTimeOffset().Should().BeAfter(_time.GetUtcNow());
        health.GetProperty("caches").TryGetProperty("jsapi_ticket:demo", out _).Should().BeTrue();
    }

    [Fact]
    public async Task StatusData_ReportsEachCacheStateWithoutTokens()
    {
        await StartAsync();
        var token = (await GetJsonAsync("tokens/demo", SampleHosts.ApiKey)).GetProperty("access_token").GetString()!;
        await GetJsonAsync("tickets/demo", SampleHosts.ApiKey);

        var page = await _http.GetStringAsync(new Uri(Address, "/"));
        var status = await _http.GetStringAsync(new Uri(Address, "/status.json"));

        using var json = JsonDocument.Parse(status);
        var app = json.RootElement.GetProperty("apps")[0];
        app.GetProperty("name").GetString().Should().Be("demo");
        app.GetProperty("emulated").GetBoolean().Should().BeTrue();
        app.GetProperty("token").GetProperty("state").GetString().Should().Be("Fresh");
        app.GetProperty("ticket").GetProperty("state").GetString().Should().Be("Fresh");
        status.Should().NotContain(token);
        page.Should().NotContain(token).And.Contain("status.json");
    }

    [Fact]
    public async Task GetToken_WrongAppSecret_Answers503AtOnceWithTheReason()
    {
        await StartAsync(beforeStart: e => e.InjectFault(WeChatFault.Error(40125, "invalid appsecret"), 1000));
        var cache = _hub!.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("demo");
        await FluentActions.Awaiting(() => cache.RefreshAsync()).Should().ThrowAsync<Exception>(); // the first attempt has failed

        // No clock advance: a wrong AppSecret is known at the first attempt, so nobody waits for InitialLoadTimeout.
        using var response = await SendAsync(HttpMethod.Get, "tokens/demo", SampleHosts.ApiKey).WaitAsync(Guard);

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("reason").GetString().Should().Contain("retries will not fix");
    }

    [Fact]
    public async Task Start_WithoutClientOutsideDevelopment_FailsNamingTheSetting()
    {
        var app = await TokenHubApp.BuildAsync([], _time, b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["TokenHub:EmulatorPort"] = "0",
                ["TokenHub:Apps:demo:AppId"] = "wx1",
            });
        });
        await using var _ = app;

        Exception? thrown = null;
        try
        {
            await app.StartAsync();
        }
        catch (Exception e)
        {
            thrown = e;
        }

        // Two refusals: no client, and an app without AppSecret (the sample starts no emulator outside Development).
        var messages = (thrown as AggregateException)?.InnerExceptions.Select(e => e.Message).ToList() ?? [thrown?.Message ?? "started"];
        messages.Should().Contain(m => m.Contains("TokenHub:Clients must configure at least one client"))
            .And.Contain(m => m.Contains("TokenHub:Apps:demo:AppSecret is required outside Development"));
        app.Services.GetService<WeChatEmulator>().Should().BeNull();
    }

    private Uri Address { get; set; } = null!;

    private async Task StartAsync(string mode = "StableToken", Dictionary<string, string?>? extra = null, Action<WeChatEmulator>? beforeStart = null)
    {
        (_hub, Address, _emulator) = await SampleHosts.StartHubAsync(_time, mode, extra, beforeStart);
    }

    private async Task<JsonElement> GetJsonAsync(string path, string? key)
    {
        using var response = await SendAsync(HttpMethod.Get, path, key);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, object? body = null)
    {
        var request = new HttpRequestMessage(method, new Uri(Address, path));
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return _http.SendAsync(request);
    }
}
