using BackgroundCache.StackExchangeRedis.Tests;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Douyin.Tests;

[Collection(RedisTests.Name)]
public sealed class DouyinRedisTests(RedisFixture redis)
{
    [SkippableFact]
    public async Task SimulatedDay_TwoHostsSharingRedis_ClientTokenReplacedOnFetch_OneRefresherThirteenCallsNoInstanceReadsADeadToken()
    {
        var time = PlatformHost.NewTime();
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        await using var cluster = new PlatformCluster(redis.Server.Configuration, time, DouyinHarness.Name, s =>
            s.AddDouyinClientToken(DouyinHarness.Name, o => DouyinHarness.Configure(o, emulator, stable: false)));

        var (calls, invalid) = await cluster.RunDayAsync(() => emulator.TokenCalls, emulator.IsValid, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(5));

        calls.Should().BeInRange(12, 13, "the two hosts share one refresher: each extra fetch would cut the other's token to 5 minutes");
        emulator.TokensIssued.Should().Be(emulator.TokenCalls);
        invalid.Should().Be(0);
    }

    [Fact]
    public async Task SimulatedDay_TwoHostsWithoutCoordination_ClientToken_EachCutsTheOthersTokenAndDeadTokensAreRead()
    {
        // The counter-test: the emulator enforces Douyin's rule, so the coordinated test above can fail.
        var time = PlatformHost.NewTime();
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        await using var cluster = new PlatformCluster(null, time, DouyinHarness.Name, s =>
            s.AddDouyinClientToken(DouyinHarness.Name, o => DouyinHarness.Configure(o, emulator, stable: false)));

        var (calls, invalid) = await cluster.RunDayAsync(() => emulator.TokenCalls, emulator.IsValid, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(5));

        calls.Should().BeGreaterThan(20, "each host fetches for itself");
        invalid.Should().BeGreaterThan(0, "each fetch cuts the other host's token to 5 minutes");
    }

    [Fact]
    public async Task SimulatedDay_TwoHostsWithoutCoordination_StableToken_NoDeadReads()
    {
        var time = PlatformHost.NewTime();
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        await using var cluster = new PlatformCluster(null, time, DouyinHarness.Name, s =>
            s.AddDouyinClientToken(DouyinHarness.Name, o => DouyinHarness.Configure(o, emulator, stable: true)));

        var (_, invalid) = await cluster.RunDayAsync(() => emulator.TokenCalls, emulator.IsValid, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(5));

        invalid.Should().Be(0, "a stable token is the same for every instance until it expires");
        emulator.TokensIssued.Should().BeInRange(12, 13);
    }
}
