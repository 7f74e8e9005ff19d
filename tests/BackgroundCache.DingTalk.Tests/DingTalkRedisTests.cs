using BackgroundCache.StackExchangeRedis.Tests;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.DingTalk.Tests;

[Collection(RedisTests.Name)]
public sealed class DingTalkRedisTests(RedisFixture redis)
{
    [SkippableFact]
    public async Task SimulatedDay_TwoHostsSharingRedis_OneRefresherThirteenCallsNoExpiredRead()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        await using var emulator = await DingTalkHarness.StartEmulatorAsync(time);
        await using var cluster = new PlatformCluster(redis.Server.Configuration, time, DingTalkHarness.Name, s =>
            s.AddDingTalkAccessToken(DingTalkHarness.Name, o => DingTalkHarness.Configure(o, emulator, DingTalkApi.New)));
        await cluster.AddHostAsync();
        await cluster.AddHostAsync();
        await cluster.SettleAsync();
        var start = time.GetUtcNow();
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

        emulator.TokenCalls.Should().BeInRange(12, 13, "the two hosts share one refresher");
        invalid.Should().Be(0);
    }
}
