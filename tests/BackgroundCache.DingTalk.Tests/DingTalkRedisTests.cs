using BackgroundCache.StackExchangeRedis.Tests;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.DingTalk.Tests;

[Collection(RedisTests.Name)]
public sealed class DingTalkRedisTests(RedisFixture redis)
{
    [SkippableFact]
    public async Task SimulatedDay_TwoHostsSharingRedis_OneRefresherThirteenCallsNoExpiredRead()
    {
        var time = PlatformHost.NewTime();
        await using var emulator = await DingTalkHarness.StartEmulatorAsync(time);
        await using var cluster = new PlatformCluster(redis.Server.Configuration, time, DingTalkHarness.Name, s =>
            s.AddDingTalkAccessToken(DingTalkHarness.Name, o => DingTalkHarness.Configure(o, emulator, DingTalkApi.New)));

        var (calls, invalid) = await cluster.RunDayAsync(() => emulator.TokenCalls, emulator.IsValid, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(5));

        calls.Should().BeInRange(12, 13, "the two hosts share one refresher");
        emulator.TokensIssued.Should().Be(1);
        invalid.Should().Be(0);
    }
}
