using BackgroundCache.StackExchangeRedis.Tests;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Douyin.Tests;

[Collection(RedisTests.Name)]
public sealed class DouyinRedisTests(RedisFixture redis)
{
    [SkippableFact]
    public async Task SimulatedDay_TwoHostsSharingRedis_ClientTokenReplacedOnFetch_OneRefresherThirteenCallsNoInstanceReadsADeadToken()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        await using var cluster = new PlatformCluster(redis.Server.Configuration, time, DouyinHarness.Name, s =>
            s.AddDouyinClientToken(DouyinHarness.Name, o => DouyinHarness.Configure(o, emulator, stable: false)));
        await cluster.AddHostAsync();
        await cluster.SettleAsync();
        await cluster.AdvanceAsync(TimeSpan.FromMinutes(10)); // the second instance starts later, as in a rolling deploy
        await cluster.AddHostAsync();
        await cluster.SettleAsync();
        var start = time.GetUtcNow();
        var before = emulator.TokenCalls;
        var invalid = 0;

        while (time.GetUtcNow() < start.AddDays(1))
        {
            foreach (var host in cluster.Hosts)
            {
                cluster.Cache(host).TryGetValue(out var token).Should().BeTrue();
                invalid += emulator.IsValid(token!.Value) ? 0 : 1;
            }

            await cluster.AdvanceAsync(TimeSpan.FromMinutes(5));
        }

        (emulator.TokenCalls - before).Should().BeInRange(12, 13, "the two hosts share one refresher: each extra fetch would cut the other's token to 5 minutes");
        emulator.TokensIssued.Should().Be(emulator.TokenCalls);
        invalid.Should().Be(0);
    }
}
