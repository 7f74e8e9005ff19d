using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.WeChat.Tests;

/// <summary>The access token and the JS-SDK ticket of one app each get a health check by default (issue #11, item 6).</summary>
public sealed class HealthCheckNamingTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WithHealthCheck_OnTheTokenAndTheJsApiTicketOfOneApp_HostStartsAndReportsBoth()
    {
        await using var h = await WeChatHarness.StartAsync(
            build: b => b.WithHealthCheck(),
            services: s => s.AddWeChatJsApiTicket(WeChatHarness.Name).WithHealthCheck());
        var tickets = h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(WeChatHarness.Name);
        await tickets.GetAsync().AsTask().WaitAsync(Guard);

        var report = await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Keys.Should().BeEquivalentTo("backgroundcache:demo:AccessToken", "backgroundcache:demo:WeChatJsApiTicket");
        report.Entries.Values.Should().OnlyContain(e => e.Status == HealthStatus.Healthy);
        report.Entries["backgroundcache:demo:WeChatJsApiTicket"].Description.Should().Contain("WeChatJsApiTicket");
    }

    [Fact]
    public async Task WithHealthCheck_ExplicitNames_AreUsedAsGiven()
    {
        await using var h = await WeChatHarness.StartAsync(
            build: b => b.WithHealthCheck("token:demo"),
            services: s => s.AddWeChatJsApiTicket(WeChatHarness.Name).WithHealthCheck("ticket:demo"));
        var tickets = h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(WeChatHarness.Name);
        await tickets.GetAsync().AsTask().WaitAsync(Guard);

        var report = await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        report.Entries.Keys.Should().BeEquivalentTo("token:demo", "ticket:demo");
        report.Status.Should().Be(HealthStatus.Healthy);
    }
}
