using BackgroundCache.Internal.Engine;
using BackgroundCache.StackExchangeRedis.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>A refreshing cache set shared by several instances through one Redis (issue #10, sets across instances).</summary>
[Collection(RedisTests.Name)]
public sealed class SetCoordinationTests(RedisFixture redis)
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task AKeyOneInstanceAdded_IsTakenFromRedisByTheOthers_WithNoUpstreamCall()
    {
        await using var cluster = await SetCluster.StartAsync(redis.Server, nodes: 3);

        var a = await cluster.Nodes[0].Set.GetAsync("a").AsTask().WaitAsync(Guard);
        var fromOthers = await Task.WhenAll(cluster.Nodes.Skip(1).Select(n => n.Set.GetAsync("a").AsTask())).WaitAsync(Guard);
        var b = await cluster.Nodes[1].Set.GetAsync("b").AsTask().WaitAsync(Guard);
        var bElsewhere = await cluster.Nodes[2].Set.GetAsync("b").AsTask().WaitAsync(Guard);

        fromOthers.Should().OnlyContain(t => t == a);
        bElsewhere.Should().Be(b);
        cluster.Calls("a").Should().Be(1);
        cluster.Calls("b").Should().Be(1);
        cluster.Nodes.Count(n => n.Coordinator.IsLeader).Should().Be(1);
        cluster.Nodes.Where(n => !n.Coordinator.IsLeader).Should().OnlyContain(n => n.UpstreamCalls == 0, "only the leader calls the upstream");
    }

    [SkippableFact]
    public async Task AReportOfAKeysValuePublishedDuringAForcedRefresh_IsAnsweredByANewValue_TwentyRounds()
    {
        await using var cluster = await SetCluster.StartAsync(redis.Server, nodes: 3);
        await cluster.Nodes[0].Set.GetAsync("first").AsTask().WaitAsync(Guard); // the first fetch makes node 0 the leader
        cluster.Nodes[0].Coordinator.IsLeader.Should().BeTrue();
        var follower = cluster.Nodes[1];
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var released = new Releaser(() => resume.TrySetResult()); // never leaves an attempt held
        for (var round = 0; round < 20; round++)
        {
            var key = $"k{round}";
            var served = await follower.Set.GetAsync(key).AsTask().WaitAsync(Guard);
            await Eventually.TrueAsync(() => follower.Engine.Find(key) is { IsWaiting: true }, cluster.Describe); // its first attempt ended
            var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            follower.Coordinator.BeforeReturningShared = async () =>
            {
                if (held.TrySetResult())
                {
                    await resume.Task;
                }
            };

            // A forced refresh on the follower: the leader fetches, its notification publishes the new value on the follower
            // while the follower's own attempt is held just before it returns that same value.
            var entry = follower.Set.GetOrAdd(key);
            var refresh = entry.RefreshAsync();
            await held.Task.WaitAsync(Guard);
            await Eventually.TrueAsync(() => entry.TryGetValue(out var v) && v.Value != served.Value, cluster.Describe);
            entry.TryGetValue(out var published).Should().BeTrue();
            var report = entry.InvalidateAsync(published!);
            follower.Coordinator.BeforeReturningShared = null;
            resume.SetResult();
            await refresh.WaitAsync(Guard);

            // Before: the report joined the running attempt and was answered with the reported value itself.
            (await report.WaitAsync(Guard)).Should().NotBe(published, $"round {round}");
            cluster.Calls(key).Should().Be(3, $"round {round}");
        }
    }

    [SkippableFact]
    public async Task ASimulatedDay_ThreeInstancesTenKeys_AtMostThirteenCallsPerKey_SameTokenEverywhere()
    {
        await using var cluster = await SetCluster.StartAsync(redis.Server, nodes: 3);
        var keys = Enumerable.Range(0, 10).Select(i => $"tenant-{i}").ToArray();
        foreach (var node in cluster.Nodes)
        {
            foreach (var key in keys)
            {
                await node.Set.GetAsync(key).AsTask().WaitAsync(Guard);
            }
        }

        var start = cluster.Time.GetUtcNow();
        var disagreements = 0;
        var expiredReads = 0;
        while (cluster.Time.GetUtcNow() < start.AddDays(1))
        {
            await cluster.AdvanceAsync(TimeSpan.FromMinutes(10));
            foreach (var key in keys)
            {
                var served = cluster.Nodes.Select(n => n.Set.TryGetValue(key, out var t) ? t : null).ToList();
                disagreements += served.Distinct().Count() == 1 ? 0 : 1;
                expiredReads += served.Count(t => t is null || t.ExpiresAt <= cluster.Time.GetUtcNow());
            }
        }

        keys.Select(cluster.Calls).Should().OnlyContain(c => c <= 13, cluster.Describe());
        disagreements.Should().Be(0);
        expiredReads.Should().Be(0);
    }

    [SkippableFact]
    public async Task AnIdleInstance_SendsOneCommandPerPoll_WhateverTheNumberOfKeys()
    {
        await using var cluster = await SetCluster.StartAsync(redis.Server, nodes: 2);
        var follower = await cluster.FollowerAsync();
        var fewKeys = await cluster.IdleCostAsync(follower, keys: 3, polls: 5);
        var manyKeys = await cluster.IdleCostAsync(follower, keys: 300, polls: 5);

        fewKeys.Should().Be(5);
        manyKeys.Should().Be(5);
    }

    [SkippableFact]
    public async Task RemoveOnOneInstance_RemovesTheKeyEverywhere()
    {
        await using var cluster = await SetCluster.StartAsync(redis.Server, nodes: 3);
        foreach (var node in cluster.Nodes)
        {
            await node.Set.GetAsync("gone").AsTask().WaitAsync(Guard);
        }

        (await cluster.Nodes[2].Set.RemoveAsync("gone")).Should().BeTrue();

        await Eventually.TrueAsync(() => cluster.Nodes.All(n => !n.Set.Keys.Contains("gone")), cluster.Describe);
        cluster.Nodes.Should().OnlyContain(n => n.Set.Count == 0);
    }

    private sealed class SetCluster : IAsyncDisposable
    {
        public const string Name = "tenants";
        private readonly Dictionary<string, int> _calls = [];

        private SetCluster(RedisServer redis) => Redis = redis;

        public RedisServer Redis { get; }

        public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));

        public string Prefix { get; } = $"set:{Guid.NewGuid():N}:";

        public List<SetNode> Nodes { get; } = [];

        public static async Task<SetCluster> StartAsync(RedisServer redis, int nodes)
        {
            var cluster = new SetCluster(redis);
            for (var i = 0; i < nodes; i++)
            {
                cluster.Nodes.Add(await cluster.StartNodeAsync());
            }

            return cluster;
        }

        public int Calls(string key)
        {
            lock (_calls)
            {
                return _calls.GetValueOrDefault(key);
            }
        }

        public async Task<SetNode> FollowerAsync()
        {
            await Nodes[0].Set.GetAsync("warm").AsTask().WaitAsync(Guard);
            await Nodes[1].Set.GetAsync("warm").AsTask().WaitAsync(Guard);
            return Nodes.Single(n => !n.Coordinator.IsLeader);
        }

        /// <summary>Adds keys everywhere, lets the follower catch up with one poll, then counts the commands of idle polls.</summary>
        public async Task<long> IdleCostAsync(SetNode follower, int keys, int polls)
        {
            foreach (var node in Nodes)
            {
                foreach (var key in Enumerable.Range(0, keys).Select(i => $"idle-{i}"))
                {
                    await node.Set.GetAsync(key).AsTask().WaitAsync(Guard);
                }
            }

            await SettleAsync();
            await follower.Coordinator.PollNowAsync();
            var before = follower.Coordinator.CommandsSent;
            for (var i = 0; i < polls; i++)
            {
                await follower.Coordinator.PollNowAsync();
            }

            return follower.Coordinator.CommandsSent - before;
        }

        public async Task AdvanceAsync(TimeSpan step)
        {
            var target = Time.GetUtcNow() + step;
            while (NextDue() is { } next && next <= target)
            {
                Time.Advance(next - Time.GetUtcNow());
                await SettleAsync();
            }

            Time.Advance(target - Time.GetUtcNow());
        }

        public async Task SettleAsync() => await Eventually.TrueAsync(IsSettled, Describe);

        public string Describe() => string.Join('\n', Nodes.SelectMany((n, i) => n.Engine.Entries.Select(e =>
            $"node{i} {e.DisplayName}: waiting={e.IsWaiting} version={e.Status.Version} next={e.Status.NextRefreshAt:O} leader={n.Coordinator.IsLeader} error={e.Status.LastError?.Message}")))
            + "\ncalls: " + string.Join(", ", _calls.Select(c => $"{c.Key}={c.Value}"))
            + "\n" + string.Join('\n', Nodes.SelectMany((n, i) => n.Host.Services.GetFakeLogCollector().GetSnapshot()
                .Where(r => r.Category?.StartsWith("BackgroundCache", StringComparison.Ordinal) == true)
                .Select(r => $"{r.Timestamp:HH:mm:ss.fff} node{i} [{r.Id.Id}] {r.Message}")));

        public async ValueTask DisposeAsync()
        {
            foreach (var node in Nodes)
            {
                await node.DisposeAsync();
            }
        }

        private DateTimeOffset? NextDue() => Nodes.SelectMany(n => n.Engine.Entries).Select(e => e.Status.NextRefreshAt).Where(d => d is not null).Min();

        private bool IsSettled()
        {
            var now = Time.GetUtcNow();
            var entries = Nodes.SelectMany(n => n.Engine.Entries).ToList();
            return entries.All(e => e.IsWaiting && e.Status.NextRefreshAt > now)
                && entries.GroupBy(e => e.DisplayName).All(g => g.Select(e => e.Status.Version).Distinct().Count() == 1);
        }

        private async Task<SetNode> StartNodeAsync()
        {
            var node = new SetNode();
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddSingleton<TimeProvider>(Time);
            builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Debug);
            builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
            builder.Services.AddRefreshingCacheSet<string, AccessToken>(
                    Name,
                    (_, key, _) =>
                    {
                        Interlocked.Increment(ref node.UpstreamCalls);
                        int n;
                        lock (_calls)
                        {
                            n = _calls[key] = _calls.GetValueOrDefault(key) + 1;
                        }

                        return ValueTask.FromResult(new AccessToken($"{key}-{n}", Time.GetUtcNow().AddHours(2)));
                    })
                .UseRedisCoordination(o =>
                {
                    o.Configuration = Redis.Configuration;
                    o.KeyPrefix = Prefix;
                    o.LeaseDuration = TimeSpan.FromSeconds(30);
                });
            node.Host = builder.Build();
            await node.Host.StartAsync().WaitAsync(Guard);
            return node;
        }
    }

    private sealed class SetNode : IAsyncDisposable
    {
        public int UpstreamCalls;

        public IHost Host { get; set; } = null!;

        public IRefreshingCacheSet<string, AccessToken> Set => Host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(SetCluster.Name);

        public RefreshingCacheSet<string, AccessToken> Engine => Host.Services.GetRequiredKeyedService<RefreshingCacheSet<string, AccessToken>>(SetCluster.Name);

        public RedisCacheCoordinator<AccessToken> Coordinator => Host.Services.GetRequiredKeyedService<RedisCacheCoordinator<AccessToken>>("set:" + SetCluster.Name);

        public async ValueTask DisposeAsync()
        {
            using var cts = new CancellationTokenSource(Guard);
            await Host.StopAsync(cts.Token);
            Host.Dispose();
        }
    }

    private sealed class Releaser(Action release) : IDisposable
    {
        public void Dispose() => release();
    }
}
