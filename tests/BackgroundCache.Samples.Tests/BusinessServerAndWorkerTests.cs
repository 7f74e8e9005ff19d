using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.Samples.Worker;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Samples.Tests;

public sealed class BusinessServerAndWorkerTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task BusinessServer_GetsTokenFromHub_AndItsWeChatCallSucceeds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
        var (hub, hubAddress, emulator) = await SampleHosts.StartHubAsync(time);
        await using var _ = hub;
        var (business, businessAddress) = await SampleHosts.StartBusinessServerAsync(time, hubAddress, emulator.BaseAddress);
        await using var __ = business;
        using var http = new HttpClient();

        var body = await http.GetFromJsonAsync<JsonElement>(new Uri(businessAddress, "wechat/api-domain-ip"));

        body.GetProperty("ip_list").GetArrayLength().Should().BeGreaterThan(0);
        emulator.ApiCalls.Should().Be(1);
        emulator.RejectedApiCalls.Should().Be(0);
        await business.StopAsync();
        await hub.StopAsync();
    }

    [Fact]
    public async Task BusinessServer_TokenRejected_ReportsItToTheHubAndRetriesWithTheHubsCurrentToken()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
        var (hub, hubAddress, emulator) = await SampleHosts.StartHubAsync(time, mode: "Token");
        await using var _ = hub;
        var (business, businessAddress) = await SampleHosts.StartBusinessServerAsync(time, hubAddress, emulator.BaseAddress);
        await using var __ = business;
        using var http = new HttpClient();
        await http.GetFromJsonAsync<JsonElement>(new Uri(businessAddress, "wechat/api-domain-ip"));

        // Another business server reports the token rejected: the hub replaces it (classic mode: the old one lives 5 more minutes).
        string replaced;
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Uri(hubAddress, "tokens/demo")))
        {
            request.Headers.Add("X-Api-Key", SampleHosts.ApiKey);
            using var response = await http.SendAsync(request);
            replaced = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        }

        using (var report = new HttpRequestMessage(HttpMethod.Post, new Uri(hubAddress, "tokens/demo/invalidate")) { Content = JsonContent.Create(new { access_token = replaced }) })
        {
            report.Headers.Add("X-Api-Key", SampleHosts.ApiKey);
            (await http.SendAsync(report)).EnsureSuccessStatusCode();
        }

        var before = emulator.TokenCalls;
        time.Advance(TimeSpan.FromMinutes(5)); // the business server's copy is now superseded and past its overlap

        var body = await http.GetFromJsonAsync<JsonElement>(new Uri(businessAddress, "wechat/api-domain-ip"));

        body.GetProperty("ip_list").GetArrayLength().Should().BeGreaterThan(0);
        emulator.RejectedApiCalls.Should().Be(1, "the stale token was refused once, then the request was retried with the hub's current token");
        (emulator.TokenCalls - before).Should().Be(0, "the business server's report did not make the hub call WeChat again: the hub had already moved on");
        await business.StopAsync();
        await hub.StopAsync();
    }

    [Fact]
    public async Task Worker_RefreshesRatesIntoMemoryCacheOnSchedule()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
        using var host = WorkerApp.Build([], time, b => b.Services.Configure<RefreshingCacheOptions>(o => o.Jitter = TimeSpan.Zero));
        var idle = new SemaphoreSlim(0);
        host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<ExchangeRates>>(string.Empty).OnIdle = () => idle.Release();
        var memory = host.Services.GetRequiredService<IMemoryCache>();
        var provider = (SimulatedRatesProvider)host.Services.GetRequiredService<IRatesProvider>();
        await host.StartAsync();
        (await idle.WaitAsync(Guard)).Should().BeTrue();
        var seen = new List<DateTimeOffset> { memory.Get<ExchangeRates>(WorkerApp.CacheKey)!.AsOf };

        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(10));
            (await idle.WaitAsync(Guard)).Should().BeTrue();
            seen.Add(memory.Get<ExchangeRates>(WorkerApp.CacheKey)!.AsOf);
        }

        provider.Calls.Should().Be(4);
        seen.Should().OnlyHaveUniqueItems().And.BeInAscendingOrder();
        (seen[^1] - seen[0]).Should().Be(TimeSpan.FromSeconds(30));
        await host.StopAsync();
    }
}
