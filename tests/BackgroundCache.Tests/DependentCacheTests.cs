using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Tests;

/// <summary>
/// A cache whose fetch reads another cache ("b" reads "a"): when "a" fails for good, "b" fails for good too, at once, and
/// says so once (issue #11, item 5).
/// </summary>
public sealed class DependentCacheTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Dependent_OtherCacheFailsPermanently_ReadersFailAtOnceRetriesWaitRetryMaxDelayAndOneErrorIsLogged()
    {
        await using var h = await CacheHarness<int>.StartAsync(
            async (sp, ct) => (await sp.GetRequiredKeyedService<IRefreshingCache<string>>("a").GetAsync(ct)).Length,
            o => o.RetryMaxDelay = TimeSpan.FromMinutes(2),
            name: "b",
            services: s => s.AddRefreshingCache<string>("a", (_, _) => ValueTask.FromException<string>(new BadSecret())));
        await h.WaitIdleAsync();

        var read = () => h.Cache.GetAsync().AsTask().WaitAsync(Guard);

        (await read.Should().ThrowAsync<CacheValueUnavailableException>()).Which.InnerException.Should()
            .BeOfType<CacheValueUnavailableException>().Which.InnerException.Should().BeOfType<BadSecret>();
        (h.Cache.Status.NextRefreshAt - h.Time.GetUtcNow()).Should().Be(TimeSpan.FromMinutes(2), "retries will not help: wait RetryMaxDelay");

        await h.AdvanceToNextRefreshAsync();
        await h.AdvanceToNextRefreshAsync();

        var failures = h.Logs.GetSnapshot().Where(r => r.Message.StartsWith("Cache 'b'", StringComparison.Ordinal) && r.Exception is not null).ToList();
        failures.Should().HaveCount(3);
        failures.Where(r => r.Level >= LogLevel.Warning).Should().ContainSingle().Which.Level.Should().Be(LogLevel.Error);
        failures.Where(r => r.Id.Id == 1031).Should().HaveCount(2).And.OnlyContain(r => r.Level == LogLevel.Debug);
    }

    private sealed class BadSecret() : Exception("bad secret"), IRefreshRetryAdvice
    {
        public bool IsTransient => false;

        public TimeSpan? RetryAfter => null;
    }
}
