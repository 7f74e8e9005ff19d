using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Tests;

[Collection(RedisTests.Name)]
public sealed class RedisCoordinationTests(RedisFixture redis)
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task FiveHosts_SimulatedDayOfClassicTokens_AtMostThirteenCallsSameTokenEverywhereNoInvalidRead()
    {
        await using var cluster = await Cluster.StartAsync(redis.Server, hosts: 5);
        await cluster.SettleAsync();
        var start = cluster.Time.GetUtcNow();
        var invalidReads = 0;
        var disagreements = 0;
        var checks = 0;

        while (cluster.Time.GetUtcNow() < start.AddDays(1))
        {
            await cluster.SettleAsync(); // notifications of a refresh on the way have reached every host
            var tokens = cluster.Hosts.Select(h => Cluster.Cache(h).TryGetValue(out var t) ? t.Value : null).ToList();
            checks++;
            invalidReads += tokens.Count(t => cluster.Emulator.ValidateAccessToken(t) != 0);
            disagreements += tokens.Distinct().Count() == 1 ? 0 : 1;
            await cluster.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        cluster.Emulator.TokenCalls.Should().BeLessThanOrEqualTo(13, cluster.DumpLogs());
        checks.Should().Be(1440);
        invalidReads.Should().Be(0);
        disagreements.Should().Be(0);
        cluster.Hosts.Count(h => Cluster.Coordinator(h).IsLeader).Should().Be(1);
    }

    [SkippableFact]
    public async Task KilledLeader_AnotherHostTakesOverWithinTheLeaseAndNoInvalidTokenIsServed()
    {
        await using var cluster = await Cluster.StartAsync(redis.Server, hosts: 3);
        await cluster.SettleAsync();
        var leader = cluster.Hosts.Single(h => Cluster.Coordinator(h).IsLeader);
        await Cluster.Coordinator(leader).SimulateCrashAsync();
        await cluster.StopHostAsync(leader);
        await cluster.LapseLeaseAsync();
        var callsBefore = cluster.Emulator.TokenCalls;
        var invalid = 0;
        void CheckReads()
        {
            foreach (var host in cluster.Hosts)
            {
                if (!Cluster.Cache(host).TryGetValue(out var token) || cluster.Emulator.ValidateAccessToken(token.Value) != 0)
                {
                    invalid++;
                }
            }
        }

        // The next refresh comes due while the dead leader's lease is still held: the survivors wait for it to lapse.
        await cluster.AdvanceAsync(TimeSpan.FromHours(2), CheckReads);

        cluster.Hosts.Count(h => Cluster.Coordinator(h).IsLeader).Should().Be(1);
        (cluster.Emulator.TokenCalls - callsBefore).Should().Be(1);
        invalid.Should().Be(0);
    }

    [SkippableFact]
    public async Task RestartOfAllHosts_WhileAValidTokenIsStored_MakesNoUpstreamCall()
    {
        var prefix = $"restart:{Guid.NewGuid():N}:";
        await using var first = await Cluster.StartAsync(redis.Server, hosts: 5, prefix: prefix);
        await first.SettleAsync();
        var token = Cluster.Cache(first.Hosts[0]).TryGetValue(out var t) ? t : null;
        foreach (var host in first.Hosts.ToList())
        {
            await first.StopHostAsync(host);
        }

        var calls = first.Emulator.TokenCalls;
        first.Time.Advance(TimeSpan.FromMinutes(30));

        await using var second = await Cluster.StartAsync(redis.Server, hosts: 5, first.Time, first.Emulator, prefix);
        await second.SettleAsync();

        first.Emulator.TokenCalls.Should().Be(calls);
        second.Hosts.Select(h => Cluster.Cache(h).TryGetValue(out var v) ? v : null).Should().OnlyContain(v => v == token);
    }

    [SkippableFact]
    public async Task RedisStoppedMidRun_HostsKeepServingAndTurnDegradedThenConvergeWhenItReturns()
    {
        await using var server = await RedisServer.StartAsync();
        await using var cluster = await Cluster.StartAsync(server, hosts: 3);
        await cluster.SettleAsync();
        var token = Cluster.Cache(cluster.Hosts[0]).TryGetValue(out var t) ? t : null;

        await server.StopAsync();
        await WaitUntilAsync(async () => (await Task.WhenAll(cluster.Hosts.Select(Cluster.HealthAsync))).All(r => r.Status == HealthStatus.Degraded));
        await cluster.AdvanceAsync(TimeSpan.FromMinutes(30)); // polls fail; nobody calls the upstream

        cluster.Hosts.Select(Served).Should().OnlyContain(v => v == token);
        cluster.Emulator.TokenCalls.Should().Be(1, "nobody called the upstream during the outage");
        var report = await Cluster.HealthAsync(cluster.Hosts[0]);
        report.Entries["backgroundcache-redis:demo"].Description.Should().Contain("Redis is unavailable");

        var calls = cluster.Emulator.TokenCalls;
        await server.StartAgainAsync();
        await WaitUntilAsync(async () => (await Task.WhenAll(cluster.Hosts.Select(Cluster.HealthAsync))).All(r => r.Status == HealthStatus.Healthy));
        await cluster.AdvanceAsync(TimeSpan.FromHours(2));
        await cluster.SettleAsync();

        var tokens = cluster.Hosts.Select(h => Cluster.Cache(h).TryGetValue(out var v) ? v.Value : null).ToList();
        tokens.Distinct().Should().ContainSingle();
        cluster.Emulator.ValidateAccessToken(tokens[0]).Should().Be(0);
        (cluster.Emulator.TokenCalls - calls).Should().Be(1, cluster.DumpLogs());
    }

    [SkippableFact]
    public async Task HundredConcurrentInvalidationsSpreadOverFiveHosts_CauseOneUpstreamCall()
    {
        await using var cluster = await Cluster.StartAsync(redis.Server, hosts: 5);
        await cluster.SettleAsync();
        var token = Cluster.Cache(cluster.Hosts[0]).TryGetValue(out var t) ? t : null;
        var calls = cluster.Emulator.TokenCalls;

        var replacements = await Task.WhenAll(Enumerable.Range(0, 100).Select(i =>
            Task.Run(() => Cluster.Cache(cluster.Hosts[i % 5]).InvalidateAsync(token!)))).WaitAsync(Guard);
        await cluster.SettleAsync();

        (cluster.Emulator.TokenCalls - calls).Should().Be(1);
        replacements.Should().OnlyContain(r => r == replacements[0]).And.NotContain(token!);
        cluster.Emulator.ValidateAccessToken(replacements[0].Value).Should().Be(0);
        cluster.Hosts.Select(Served).Should().OnlyContain(v => v == replacements[0]);
    }

    private static AccessToken? Served(IHost host) => Cluster.Cache(host).TryGetValue(out var token) ? token : null;

    /// <summary>Re-checks a condition that real time (a Redis lease, a reconnect) makes true; guarded.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!await condition())
        {
            guard.Token.ThrowIfCancellationRequested();
            await Task.Delay(TimeSpan.FromMilliseconds(50), guard.Token);
        }
    }
}
