using BackgroundCache.Tests.Shared;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.WeChat.Tests;

/// <summary>
/// A wrong AppSecret fails the access token for good; the JS-SDK ticket, which needs the token, must say so once and answer
/// its readers at once, not log an error per retry (issue #11, item 5).
/// </summary>
public sealed class DependentCacheFailureTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task JsApiTicket_TokenFailsPermanently_ReadersFailAtOnceWithTheCauseInside()
    {
        await using var h = await WeChatHarness.StartAsync(services: s => s.AddWeChatJsApiTicket(WeChatHarness.Name), start: false);
        h.Emulator.InjectFault(WeChatFault.Error(40125, "invalid appsecret"), 1_000);
        var ticketRefresher = h.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<WeChatJsApiTicket>>(WeChatHarness.Name);
        using var tickets = new RefresherProbe<WeChatJsApiTicket>(ticketRefresher, h.Time);
        await h.Host.StartAsync();
        await h.WaitIdleAsync();
        await tickets.WaitIdleAsync();

        var read = () => ticketRefresher.GetAsync().AsTask().WaitAsync(Guard);

        var unavailable = (await read.Should().ThrowAsync<CacheValueUnavailableException>("no InitialLoadTimeout wait for a permanent cause")).Which;
        unavailable.InnerException.Should().BeOfType<CacheValueUnavailableException>()
            .Which.InnerException.Should().BeOfType<WeChatApiException>().Which.ErrorCode.Should().Be(40125);
    }

    [Fact]
    public async Task JsApiTicket_TokenFailsPermanently_OneErrorIsLoggedForTheCauseNotOnePerRetry()
    {
        await using var h = await WeChatHarness.StartAsync(services: s => s.AddWeChatJsApiTicket(WeChatHarness.Name), start: false);
        h.Emulator.InjectFault(WeChatFault.Error(40125, "invalid appsecret"), 1_000);
        var ticketRefresher = h.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<WeChatJsApiTicket>>(WeChatHarness.Name);
        using var tickets = new RefresherProbe<WeChatJsApiTicket>(ticketRefresher, h.Time);
        await h.Host.StartAsync();
        await h.WaitIdleAsync();
        await tickets.WaitIdleAsync();

        // Ten minutes, stepping to each due retry of either cache and letting it finish (the token's calls are real HTTP).
        var end = h.Time.GetUtcNow().AddMinutes(10);
        while (true)
        {
            var tokenNext = h.Refresher.Status.NextRefreshAt!.Value;
            var ticketNext = ticketRefresher.Status.NextRefreshAt!.Value;
            var next = tokenNext < ticketNext ? tokenNext : ticketNext;
            if (next > end)
            {
                break;
            }

            h.Time.Advance(next - h.Time.GetUtcNow());
            if (tokenNext == next)
            {
                await h.WaitIdleAsync();
            }

            if (ticketNext == next)
            {
                await tickets.WaitIdleAsync();
            }
        }

        var ticketFailures = h.Logs.GetSnapshot()
            .Where(r => r.Exception is CacheValueUnavailableException && r.Id.Id is 1001 or 1002 or 1031)
            .ToList();
        ticketFailures.Should().HaveCountGreaterThan(3, "the ticket keeps retrying");
        ticketFailures.Where(r => r.Level >= LogLevel.Warning).Should().ContainSingle("one error for the cause, not one per retry")
            .Which.Level.Should().Be(LogLevel.Error);
        ticketFailures.Count.Should().BeLessThanOrEqualTo(11, "a permanent cause is retried every RetryMaxDelay (1 min), not on the fast backoff");
        ticketRefresher.Status.State.Should().Be(RefreshingCacheState.Unavailable);
    }
}
