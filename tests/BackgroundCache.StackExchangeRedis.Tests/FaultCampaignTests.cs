using BackgroundCache.StackExchangeRedis.Internal;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// A seeded, time-bounded random interleaving of the faults deployments meet, over 3–5 instances of a classic-token cache
/// (each upstream call replaces the previous token, which dies 5 minutes later). After every step the instances must
/// converge (one token everywhere, within a poll, with the lease lapse made explicit), serve the newest token the upstream
/// issued (so nothing dies after the overlap), and the upstream calls stay within the step's bound. Reproduce a failure
/// with <c>CAMPAIGN_SEED=&lt;seed&gt;</c>; run one kind of step only with <c>CAMPAIGN_ONLY=&lt;step&gt;</c> (e.g.
/// <c>PauseLeaderMidFetch</c>).
/// </summary>
[Collection(RedisTests.Name)]
public sealed class FaultCampaignTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(45);
    private const int MaxSchedules = 8;
    private const int StepsPerSchedule = 10;
    private static readonly Step? Only = Enum.TryParse<Step>(Environment.GetEnvironmentVariable("CAMPAIGN_ONLY"), out var only) ? only : null;

    private enum Step
    {
        Advance,
        KillLeader,
        PauseLeaderMidFetch,
        FlushAll,
        RestartRedisEmpty,
        SlowWrite,
        ForcedRefresh,
    }

    [SkippableFact]
    public async Task RandomFaultSchedules_KeepEveryInvariant()
    {
        var baseSeed = int.TryParse(Environment.GetEnvironmentVariable("CAMPAIGN_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var fixedSeed)
            ? fixedSeed
            : Environment.TickCount & 0x7fffffff;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var schedules = 0;
        var steps = 0;
        while (schedules < MaxSchedules && (schedules == 0 || started.Elapsed < Budget))
        {
            var seed = baseSeed + schedules;
            var log = new StringBuilder();
            try
            {
                steps += await RunScheduleAsync(seed, log);
                output.WriteLine(log.ToString());
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"Campaign schedule failed: CAMPAIGN_SEED={seed}\n{log}", ex);
            }

            schedules++;
        }

        output.WriteLine($"{schedules} schedules, {steps} steps, {started.Elapsed.TotalSeconds:F1} s, first seed {baseSeed}, 0 invariant violations");
        schedules.Should().BeGreaterThan(0);
    }

    private static async Task<int> RunScheduleAsync(int seed, StringBuilder log)
    {
        var random = new Random(seed);
        await using var server = await RedisServer.StartAsync();
        await using var admin = await server.AdminAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));
        var upstream = new ClassicUpstream(time);
        var prefix = $"campaign:{seed}:";
        var trace = new InstanceTrace();
        var nodes = new List<CampaignNode>();
        try
        {
            var count = random.Next(3, 6);
            for (var i = 0; i < count; i++)
            {
                nodes.Add(await CampaignNode.StartAsync(server, prefix, time, upstream, trace));
            }

            log.AppendLine(CultureInfo.InvariantCulture, $"seed {seed}: {count} instances");
            await ConvergeAsync(nodes, upstream, log);
            for (var s = 0; s < StepsPerSchedule; s++)
            {
                var step = (Step)random.Next(Enum.GetValues<Step>().Length);
                if (Only is { } only)
                {
                    step = only; // CAMPAIGN_ONLY: one kind of step, to look at it closely
                }

                var callsBefore = upstream.Calls;
                trace.Clear();
                trace.Add(0, $"step {s}: {step}; instances {string.Join(", ", nodes.Select(n => $"node{n.Id}{(n.Node.Coordinator.IsLeader ? " (leader)" : string.Empty)}"))}");
                var bound = await ApplyAsync(step, random, server, admin, prefix, time, upstream, nodes, trace, log);
                await ConvergeAsync(nodes, upstream, log);
                var calls = upstream.Calls - callsBefore;
                log.AppendLine(CultureInfo.InvariantCulture, $"  step {s}: {step} → {calls} upstream call(s) (bound {bound}), serving {nodes[0].Served}");
                calls.Should().BeLessThanOrEqualTo(bound, $"step {step} must stay within its bound\n{log}\nthe step, as the instances logged it:\n{trace}");
            }

            return StepsPerSchedule;
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static async Task<int> ApplyAsync(Step step, Random random, RedisServer server, ConnectionMultiplexer admin, string prefix, FakeTimeProvider time, ClassicUpstream upstream, List<CampaignNode> nodes, InstanceTrace trace, StringBuilder log)
    {
        switch (step)
        {
            case Step.Advance:
            {
                var minutes = random.Next(1, 180);
                await AdvanceAsync(nodes, time, TimeSpan.FromMinutes(minutes));
                return (minutes / 59) + 1;
            }

            case Step.KillLeader:
            {
                var leader = Leader(nodes);
                if (leader is null)
                {
                    return 0;
                }

                trace.Add(0, $"node{leader.Id} crashes");
                await leader.Node.Coordinator.SimulateCrashAsync();
                nodes.Remove(leader);
                await leader.DisposeAsync();
                await admin.GetDatabase().KeyDeleteAsync(RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":lease"); // the dead leader's lease lapses
                nodes.Add(await CampaignNode.StartAsync(server, prefix, time, upstream, trace));
                return 1;
            }

            case Step.PauseLeaderMidFetch:
            {
                var leader = Leader(nodes);
                var other = nodes.FirstOrDefault(n => n != leader);
                if (leader is null || other is null)
                {
                    return 0;
                }

                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                leader.BeforeIssue = async () =>
                {
                    reached.TrySetResult();
                    await resume.Task;
                };
                leader.Node.Coordinator.PauseRenewal();
                trace.Add(0, $"refresh on node{leader.Id} (leader), its upstream call held");
                var paused = leader.Node.Cache.RefreshAsync();
                await reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
                await admin.GetDatabase().KeyDeleteAsync(RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":lease");
                trace.Add(0, $"lease deleted; forced refresh on node{other.Id}");
                await other.Node.Cache.RefreshAsync().WaitAsync(TimeSpan.FromSeconds(30));
                leader.BeforeIssue = null;
                trace.Add(0, $"node{leader.Id}'s call resumes");
                resume.SetResult();
                await CompleteAsync(paused);
                trace.Add(0, $"node{leader.Id}'s refresh ended; renewal resumes");
                leader.Node.Coordinator.ResumeRenewal();
                return 3;
            }

            case Step.FlushAll:
                await admin.GetServer(server.Configuration).FlushAllDatabasesAsync();
                return 1;

            case Step.RestartRedisEmpty:
                await server.StopAsync();
                await server.StartAgainAsync();
                return 1;

            case Step.SlowWrite:
            {
                var leader = Leader(nodes);
                if (leader is null)
                {
                    return 0;
                }

                leader.BeforeIssue = async () =>
                {
                    leader.BeforeIssue = null;
                    await admin.GetServer(server.Configuration).ExecuteAsync("CLIENT", "PAUSE", "1500", "WRITE");
                };
                await CompleteAsync(leader.Node.Cache.RefreshAsync());
                return 1;
            }

            default:
            {
                var node = nodes[random.Next(nodes.Count)];
                await CompleteAsync(node.Node.Cache.RefreshAsync());
                return 1;
            }
        }
    }

    /// <summary>Waits for a refresh; its own failure (e.g. Redis restarting under it) is not an invariant violation.</summary>
    private static async Task CompleteAsync(Task refresh)
    {
        try
        {
            await refresh.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (Exception ex) when (ex is not TimeoutException)
        {
            // Recorded in the cache's status; convergence is what is checked.
        }
    }

    /// <summary>The lease holder, or (nobody holds it while no refresh is due) the instance that would take it first.</summary>
    private static CampaignNode? Leader(List<CampaignNode> nodes) => nodes.FirstOrDefault(n => n.Node.Coordinator.IsLeader) ?? nodes.FirstOrDefault();

    /// <summary>
    /// The invariants after a step: within polls (the poll interval made explicit), every instance reaches Redis, serves the
    /// same token, and that token is the newest the upstream issued (so no instance holds one that dies after the overlap).
    /// </summary>
    private static async Task ConvergeAsync(List<CampaignNode> nodes, ClassicUpstream upstream, StringBuilder log)
    {
        await Eventually.TrueAsync(
            async () =>
            {
                foreach (var node in nodes)
                {
                    await node.Node.Coordinator.PollNowAsync();
                }

                var served = nodes.Select(n => n.Served).Distinct().ToList();
                return nodes.All(n => n.Node.Coordinator.RedisError is null && n.IsIdle)
                    && served.Count == 1 && served[0] == upstream.Latest && upstream.IsValid(served[0])
                    && nodes.Select(n => n.Node.Cache.Status.Version).Distinct().Count() == 1; // one value, one version
            },
            () => $"{string.Join("; ", nodes.Select(n => $"node{n.Id}: served={n.Served} version={n.Node.Cache.Status.Version} leader={n.Node.Coordinator.IsLeader} redis={n.Node.Coordinator.RedisError?.GetType().Name} state={n.Node.Cache.Status.State} error={n.Node.Cache.Status.LastError?.Message}"))} latest={upstream.Latest}\n{log}");
    }

    private static async Task AdvanceAsync(List<CampaignNode> nodes, FakeTimeProvider time, TimeSpan step)
    {
        var target = time.GetUtcNow() + step;
        while (nodes.Select(n => n.Node.Cache.Status.NextRefreshAt).Where(d => d is not null).Min() is { } next && next <= target)
        {
            time.Advance(next - time.GetUtcNow());
            await Eventually.TrueAsync(() => nodes.All(n => n.IsIdle && n.Node.Cache.Status.NextRefreshAt > time.GetUtcNow()));
        }

        time.Advance(target - time.GetUtcNow());
    }

    /// <summary>A plain node whose upstream call can be held or slowed by the campaign.</summary>
    private sealed class CampaignNode : IAsyncDisposable
    {
        private CampaignNode()
        {
        }

        public int Id { get; private set; }

        public PlainNode Node { get; private set; } = null!;

        public Func<Task>? BeforeIssue { get; set; }

        public string? Served => Node.Served;

        public bool IsIdle => Node.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<string>>(PlainNode.Name).IsWaiting;

        public static async Task<CampaignNode> StartAsync(RedisServer server, string prefix, FakeTimeProvider time, ClassicUpstream upstream, InstanceTrace trace)
        {
            var node = new CampaignNode { Id = trace.NextNodeId() };
            node.Node = await PlainNode.StartAsync(
                server.Configuration + ",asyncTimeout=500,syncTimeout=500",
                prefix,
                time,
                async _ =>
                {
                    trace.Add(node.Id, "fetch starts");
                    if (node.BeforeIssue is { } hook)
                    {
                        await hook();
                    }

                    var token = upstream.Issue();
                    trace.Add(node.Id, $"upstream call → {token}");
                    return token;
                },
                configure: builder =>
                {
                    builder.Logging.SetMinimumLevel(LogLevel.Debug);
                    builder.Logging.AddProvider(new TraceLoggerProvider(trace, node.Id));
                });
            return node;
        }

        public ValueTask DisposeAsync() => Node.DisposeAsync();
    }
}
