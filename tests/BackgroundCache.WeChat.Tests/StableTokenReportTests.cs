using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.WeChat.Tests;

/// <summary>
/// WeChat answers normal <c>stable_token</c> calls with the same valid token, so reports of it must not re-fetch it every
/// time nor open the fetch breaker (issue #11, item 7).
/// </summary>
public sealed class StableTokenReportTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task InvalidateAsync_TwentyParallelThenThreeSequentialReportsOfAStableToken_CostAtMostOneCallAndStayHealthy()
    {
        await using var h = await WeChatHarness.StartAsync(build: b => b.WithHealthCheck());
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        var before = h.Emulator.TokenCalls;

        var parallel = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => h.Cache.InvalidateAsync(token)))).WaitAsync(Guard);
        var sequential = new List<AccessToken>();
        for (var i = 0; i < 3; i++)
        {
            sequential.Add(await h.Cache.InvalidateAsync(token).WaitAsync(Guard));
        }

        (h.Emulator.TokenCalls - before).Should().BeLessThanOrEqualTo(1);
        parallel.Concat(sequential).Should().OnlyContain(t => t.Equals(token), "WeChat confirmed the token: it is still the current one");
        h.Emulator.ValidateAccessToken(token.Value).Should().Be(0);
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Fresh);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
        (await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status.Should().Be(HealthStatus.Healthy);
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 1030, "a report within the cooldown is logged at Debug");
    }

    [Fact]
    public async Task InvalidateAsync_ReportsOfAStableTokenEveryCooldown_NeverOpenTheFetchBreaker()
    {
        await using var h = await WeChatHarness.StartAsync(build: b => b.WithHealthCheck());
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        var before = h.Emulator.TokenCalls;

        for (var i = 0; i < 10; i++) // 10 upstream calls in 5 minutes: the breaker opens at 6 in 10 minutes
        {
            await h.AdvanceAsync(TimeSpan.FromSeconds(31));
            (await h.Cache.InvalidateAsync(token).WaitAsync(Guard)).Should().Be(token);
        }

        (h.Emulator.TokenCalls - before).Should().Be(10, "each report after the cooldown asks WeChat again");
        (await h.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be(token, "the breaker is closed");
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
        h.Logs.GetSnapshot().Should().NotContain(r => r.Id.Id == 2003, "reports alone never open the breaker");
        (await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task InvalidateAsync_ClassicToken_StillReplacesTheTokenOnTheFirstReport()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token);
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();

        var replacement = await h.Cache.InvalidateAsync(token).WaitAsync(Guard);
        var again = await h.Cache.InvalidateAsync(token).WaitAsync(Guard);

        replacement.Should().NotBe(token);
        again.Should().Be(replacement, "the cache has moved on");
        h.Emulator.TokenCalls.Should().Be(2);
    }
}
