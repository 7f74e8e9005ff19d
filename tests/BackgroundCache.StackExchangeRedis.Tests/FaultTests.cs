using System.Collections.Concurrent;
using BackgroundCache.StackExchangeRedis.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// The faults that broke the first protocol (issue #10), each against its own real redis-server. Real time decides nothing
/// here: a lease lapse is the lease key deleted, a renewal tick or a poll is a direct call, and waits are on conditions.
/// </summary>
[Collection(RedisTests.Name)]
public sealed class FaultTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task DataLossWhileTheLeaderLives_ANewInstanceGetsTheLeadersValue_WithoutAnUpstreamCall()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        b.Served.Should().Be("t1");

        await server.FlushAllAsync();
        await a.Coordinator.RenewNowAsync(); // the leader's real-time renewal tick takes its lease again

        // Before: the leader answered only requests naming its own version; the newcomer asked for 0 and never loaded.
        await using var c = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));

        (await c.Cache.GetAsync().AsTask().WaitAsync(Guard)).Should().Be("t1");
        upstream.Calls.Should().Be(1);
        await Eventually.TrueAsync(() => new[] { a, b, c }.Select(n => n.Cache.Status.Version).Distinct().Count() == 1);
    }

    [SkippableFact]
    public async Task RequestWhoseMessageTheLeaderMisses_ReachesItThroughRedisAtItsNextRenewal_OneUpstreamCall()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        var callers = new System.Collections.Concurrent.ConcurrentQueue<string>();
        await using var leader = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => { callers.Enqueue("leader"); return Task.FromResult(upstream.Issue()); });
        await using var follower = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => { callers.Enqueue("follower"); return Task.FromResult(upstream.Issue()); });
        leader.Coordinator.IsLeader.Should().BeTrue();

        // The leader's subscription hears nothing (as one still on a dead master after a failover): the follower's message
        // is lost. Before: the forced refresh waited for a change that never came (FetchTimeout + 2 × LeaseDuration).
        leader.Coordinator.MessagesLost = true;
        var refresh = follower.Cache.RefreshAsync();

        // A third of the lease (real time) without an answer: the follower stores its request too; the leader's renewal
        // (its real-time tick, or this call) takes it and answers it.
        await using var admin = await server.AdminAsync();
        var requests = RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":requests";
        await Eventually.TrueAsync(async () => refresh.IsCompleted || await admin.GetDatabase().KeyExistsAsync(requests));
        await leader.Coordinator.RenewNowAsync();

        (await refresh.WaitAsync(Guard)).Should().Be("t2");
        upstream.Calls.Should().Be(2);
        callers.Should().Equal("leader", "leader");
        await Eventually.TrueAsync(() => leader.Served == "t2");
        (await admin.GetDatabase().KeyExistsAsync(requests)).Should().BeFalse("the leader took the stored request");
    }

    [SkippableFact]
    public async Task DataLoss_TheLeadersNextPollStoresItsValueAgain_AndFollowersConverge()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));

        await server.FlushAllAsync();
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync();

        await using var admin = await server.AdminAsync();
        (await admin.GetDatabase().HashLengthAsync(RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":values")).Should().Be(1);
        await using var c = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        new[] { a, b, c }.Select(n => n.Served).Should().OnlyContain(v => v == "t1");
        upstream.Calls.Should().Be(1);
    }

    [SkippableFact]
    public async Task EmptyRestartAfterTheLeaseLapsed_OldInstancesConvergeAndAForcedRefreshIsAnswered()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await a.Cache.RefreshAsync().WaitAsync(Guard); // the old instances hold a later version (t2)
        await Eventually.TrueAsync(() => b.Served == "t2");

        await server.StopAsync();
        await server.StartAgainAsync(); // empty: no persistence
        await using var c = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));

        // The poll interval passes (on the test clock): every old instance converges on what Redis holds now.
        await Eventually.TrueAsync(async () =>
        {
            await a.Coordinator.PollNowAsync();
            await b.Coordinator.PollNowAsync();
            return a.Coordinator.RedisError is null && b.Coordinator.RedisError is null && a.Served == c.Served && b.Served == c.Served;
        }, () => Describe(a, b, c));
        upstream.IsValid(c.Served).Should().BeTrue();

        // What the 40001 handler does on an old instance: answered by whoever leads now, not after FetchTimeout.
        var fresh = await b.Cache.RefreshAsync().WaitAsync(Guard);
        fresh.Should().Be(upstream.Latest);
        await Eventually.TrueAsync(() => new[] { a, b, c }.All(n => n.Served == fresh), () => Describe(a, b, c));
        time.Advance(ClassicUpstream.Overlap + TimeSpan.FromMinutes(1));
        new[] { a, b, c }.Should().OnlyContain(n => upstream.IsValid(n.Served));
    }

    [SkippableFact]
    public async Task LeaderPausedDuringItsUpstreamCall_TheLateCallIsFollowedByARefresh_SoNoInstanceKeepsAReplacedToken()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        var hold = false;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, async _ =>
        {
            if (Volatile.Read(ref hold))
            {
                started.TrySetResult();
                await resume.Task; // paused (GC, SIGSTOP, a slow VM) with the request on its way
            }

            return upstream.Issue();
        });
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        b.Served.Should().Be("t1");

        Volatile.Write(ref hold, true);
        a.Coordinator.PauseRenewal();
        var aRefresh = a.Cache.RefreshAsync();
        await started.Task.WaitAsync(Guard);
        await LapseLeaseAsync(server, prefix);

        (await b.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t2"); // the new leader
        resume.SetResult(); // the paused call reaches the upstream now: t3 replaces t2
        await aRefresh.WaitAsync(Guard);

        // Before: both kept t2, which died after the overlap. Now the fenced result makes the leader refresh again.
        await Eventually.TrueAsync(() => a.Served == upstream.Latest && b.Served == upstream.Latest, () => Describe(a, b));
        upstream.Calls.Should().Be(4);
        time.Advance(ClassicUpstream.Overlap + TimeSpan.FromMinutes(1));
        new[] { a, b }.Should().OnlyContain(n => upstream.IsValid(n.Served));
    }

    [SkippableFact]
    public async Task LatePausedCallWhoseFencedWriteTimedOut_IsNotWrittenAgain_SoTheRefreshItCausedStands()
    {
        // Found by FaultCampaignTests (CAMPAIGN_SEED=7700926, PauseLeaderMidFetch: 4 calls against 3 under CPU load): the
        // late call's write ran (fenced: the stored value marked suspect, the leader refreshed) but answered after the client's
        // timeout; the next poll wrote the value again, was fenced again, and marked the newer token suspect: one call more.
        await using var server = await RedisServer.StartAsync();
        await using var admin = await server.AdminAsync();
        var (time, upstream, prefix) = Setup();
        var hold = false;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await PlainNode.StartAsync(server.Configuration + ",asyncTimeout=500,syncTimeout=500", prefix, time, async _ =>
        {
            if (!Volatile.Read(ref hold))
            {
                return upstream.Issue();
            }

            started.TrySetResult();
            await resume.Task; // paused with the request on its way
            var token = upstream.Issue();

            // Redis stalls for longer than the client waits, then runs the (fenced) write anyway.
            await admin.GetServer(server.Configuration).ExecuteAsync("CLIENT", "PAUSE", "2500", "WRITE");
            return token;
        });
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));

        Volatile.Write(ref hold, true);
        a.Coordinator.PauseRenewal();
        var aRefresh = a.Cache.RefreshAsync();
        await started.Task.WaitAsync(Guard);
        await LapseLeaseAsync(server, prefix);
        (await b.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t2"); // the new leader
        resume.SetResult(); // t3 replaces t2; its write is fenced, late: the leader refreshes again (t4)
        (await aRefresh.WaitAsync(Guard)).Should().Be("t3"); // the write's outcome unknown: the fetched value is served
        a.Coordinator.ResumeRenewal();

        await Eventually.TrueAsync(
            async () =>
            {
                await a.Coordinator.PollNowAsync();
                await b.Coordinator.PollNowAsync();
                return upstream.Calls >= 4 && a.Served == upstream.Latest && b.Served == upstream.Latest
                    && a.Cache.Status.Version == b.Cache.Status.Version && a.Coordinator.RedisError is null;
            },
            () => Describe(a, b));
        for (var i = 0; i < 3; i++)
        {
            await a.Coordinator.PollNowAsync();
            await b.Coordinator.PollNowAsync();
        }

        // Before: t5 (the retried write marked t4 suspect).
        upstream.Calls.Should().Be(4);
        new[] { a, b }.Should().OnlyContain(n => n.Served == "t4");
    }

    [SkippableFact]
    public async Task APollThatReadTheSuspectMarkBeforeTheLeadersAnswerLanded_DoesNotRefreshTheAnswerAgain()
    {
        // Found by FaultCampaignTests (CAMPAIGN_SEED=7884558, PauseLeaderMidFetch: 4 calls against 3): the late call's fenced
        // write marked the stored value suspect and the leader refreshed once (its answer); a poll had read the mark before
        // that answer landed and acted on it after, so the leader refreshed the answer again: one call more.
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        var holdA = false;
        var aStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var aResume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, async _ =>
        {
            if (Volatile.Read(ref holdA))
            {
                aStarted.TrySetResult();
                await aResume.Task; // paused with the request on its way
            }

            return upstream.Issue();
        });
        var holdB = 0;
        var answerStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answerRelease = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, async _ =>
        {
            if (Interlocked.Exchange(ref holdB, 0) == 1)
            {
                answerStarted.TrySetResult();
                await answerRelease.Task; // the leader's answer to the mark, held before it is issued and stored
            }

            return upstream.Issue();
        });
        b.Served.Should().Be("t1");

        Volatile.Write(ref holdA, true);
        a.Coordinator.PauseRenewal();
        var aRefresh = a.Cache.RefreshAsync();
        await aStarted.Task.WaitAsync(Guard);
        await LapseLeaseAsync(server, prefix);
        (await b.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t2"); // the new leader
        var marked = b.Cache.Status.Version;

        // The paused call issues t3; its write is fenced and marks t2 suspect; the 'f' notification makes B refresh (held).
        Volatile.Write(ref holdB, 1);
        aResume.SetResult();
        await answerStarted.Task.WaitAsync(Guard);
        (await aRefresh.WaitAsync(Guard)).Should().Be("t2", "the fenced refresh serves the stored value");
        a.Coordinator.ResumeRenewal();

        // B's poll reads the mark (still there: the answer is not stored yet) and stops before acting on it.
        var pollRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pollRelease = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        b.Coordinator.BeforeRefreshingSuspects = async () =>
        {
            pollRead.TrySetResult();
            await pollRelease.Task;
        };
        var poll = b.Coordinator.PollNowAsync();
        await pollRead.Task.WaitAsync(Guard);
        b.Coordinator.BeforeRefreshingSuspects = null;

        // The answer lands (t4, the mark cleared) and B's refresh ends; only then does the poll act on what it read.
        answerRelease.SetResult();
        var refresher = b.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<string>>(PlainNode.Name);
        await Eventually.TrueAsync(() => b.Served == "t4" && refresher.IsWaiting, () => Describe(a, b));
        b.Cache.Status.Version.Should().BeGreaterThan(marked);
        pollRelease.SetResult();
        await poll.WaitAsync(Guard);

        // Before: the poll asked for a refresh of t4 (t5, and t4 condemned).
        await Eventually.TrueAsync(() => refresher.IsWaiting, () => Describe(a, b));
        await Eventually.TrueAsync(
            async () =>
            {
                await a.Coordinator.PollNowAsync();
                await b.Coordinator.PollNowAsync();
                return a.Served == upstream.Latest && b.Served == upstream.Latest && a.Cache.Status.Version == b.Cache.Status.Version;
            },
            () => Describe(a, b));
        upstream.Calls.Should().Be(4);
        new[] { a, b }.Should().OnlyContain(n => n.Served == "t4");
        time.Advance(ClassicUpstream.Overlap + TimeSpan.FromMinutes(1));
        new[] { a, b }.Should().OnlyContain(n => upstream.IsValid(n.Served));
    }

    [SkippableFact]
    public async Task WriteSlowerThanTheClientTimeout_NoSecondUpstreamCall_AndEveryInstanceServesTheNewestToken()
    {
        await using var server = await RedisServer.StartAsync();
        await using var admin = await server.AdminAsync();
        var (time, upstream, prefix) = Setup();
        var pause = false;
        await using var a = await PlainNode.StartAsync(server.Configuration + ",asyncTimeout=500,syncTimeout=500", prefix, time, async _ =>
        {
            var token = upstream.Issue();
            if (Volatile.Read(ref pause))
            {
                // Redis stalls for longer than the client waits (as DEBUG SLEEP does), then executes the write anyway.
                await admin.GetServer(server.Configuration).ExecuteAsync("CLIENT", "PAUSE", "2000", "WRITE");
            }

            return token;
        },
        o => o.OutageBehavior = RedisOutageBehavior.RefreshLocally); // the old protocol then called the upstream again
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));

        Volatile.Write(ref pause, true);
        (await a.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t2");

        await Eventually.TrueAsync(() => b.Served == "t2" && a.Cache.Status.Version == b.Cache.Status.Version, () => Describe(a, b));
        upstream.Calls.Should().Be(2);
        time.Advance(ClassicUpstream.Overlap + TimeSpan.FromMinutes(1));
        new[] { a, b }.Should().OnlyContain(n => upstream.IsValid(n.Served));
    }

    [SkippableFact]
    public async Task ARefreshThatReadAnOlderVersion_NeverPublishesItOverANewerOneANotificationDelivered()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        b.Coordinator.BeforeReturningShared = async () =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                reading.TrySetResult();
                await release.Task;
            }
        };

        var bRefresh = b.Cache.RefreshAsync(); // forwarded to the leader: t2; B reads it, then stalls
        await reading.Task.WaitAsync(Guard);
        (await a.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t3");
        await Eventually.TrueAsync(() => b.Served == "t3");
        release.SetResult();
        await bRefresh.WaitAsync(Guard);

        b.Served.Should().Be("t3");
        b.Cache.Status.Version.Should().Be(a.Cache.Status.Version);
        await b.Coordinator.PollNowAsync();
        b.Served.Should().Be("t3");
    }

    [SkippableFact]
    public async Task TheLeadersRefreshFails_AFollowersForwardedRefreshFailsAtOnce_InsteadOfWaitingItOut()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        var failing = false;
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ =>
            Volatile.Read(ref failing) ? throw new HttpRequestException("upstream down") : Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        Volatile.Write(ref failing, true);

        // Before: the follower waited FetchTimeout + 2 x LeaseDuration of real time (90 s here) for an answer that never came.
        var refresh = () => b.Cache.RefreshAsync().WaitAsync(TimeSpan.FromSeconds(20));

        (await refresh.Should().ThrowAsync<RedisCoordinationException>()).Which.Message.Should().Contain(nameof(HttpRequestException));
        b.Served.Should().Be("t1", "the current value keeps being served");
        upstream.Calls.Should().Be(1);
    }

    [SkippableFact]
    public async Task Reconnects_NeverAddSubscriptionHandlers_EachNotificationIsHandledOnce()
    {
        await using var server = await RedisServer.StartAsync();
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        var seen = new ConcurrentQueue<string>();
        a.Coordinator.OnMessage = seen.Enqueue;
        for (var i = 0; i < 3; i++)
        {
            await server.StopAsync();
            await Eventually.TrueAsync(() => a.Coordinator.RedisError is not null);
            await server.StartAgainAsync();
            await Eventually.TrueAsync(async () =>
            {
                await a.Coordinator.PollNowAsync();
                return a.Coordinator.RedisError is null;
            });
        }

        await using var admin = await server.AdminAsync();
        var channel = RedisChannel.Literal(RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":events");
        await Eventually.TrueAsync(async () =>
        {
            await admin.GetSubscriber().PublishAsync(channel, "x|0|probe");
            return seen.Contains("x|0|probe");
        });
        await admin.GetSubscriber().PublishAsync(channel, "x|0|one");
        await admin.GetSubscriber().PublishAsync(channel, "x|0|two");
        await Eventually.TrueAsync(() => seen.Contains("x|0|two"));

        seen.Count(m => m == "x|0|one").Should().Be(1);
    }

    [SkippableFact]
    public async Task AFailedConnectionAttempt_IsNotKept_TheNextCallConnectsAgain()
    {
        await using var server = await RedisServer.StartAsync();
        var attempts = 0;
        var failFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ConnectionMultiplexer? made = null;
        var options = new RedisCoordinationOptions
        {
            ConnectionMultiplexerFactory = async () =>
            {
                if (Interlocked.Increment(ref attempts) == 1)
                {
                    await failFirst.Task;
                    throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, "the first attempt fails");
                }

                made = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
                return made;
            },
        };
        await using var provider = new RedisConnectionProvider(new ServiceCollection().BuildServiceProvider());

        var first = provider.GetAsync(options);
        failFirst.SetResult();
        await FluentActions.Awaiting(() => first).Should().ThrowAsync<RedisConnectionException>();
        var connection = await provider.GetAsync(options);

        connection.IsConnected.Should().BeTrue();
        attempts.Should().Be(2);
        await made!.DisposeAsync();
    }

    private static (FakeTimeProvider Time, ClassicUpstream Upstream, string Prefix) Setup()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 26, 0, 0, 0, TimeSpan.Zero));
        return (time, new ClassicUpstream(time), $"fault:{Guid.NewGuid():N}:");
    }

    private static async Task LapseLeaseAsync(RedisServer server, string prefix)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(server.Configuration);
        await connection.GetDatabase().KeyDeleteAsync(RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":lease");
    }

    private static string Describe(params PlainNode[] nodes) =>
        string.Join("; ", nodes.Select((n, i) => $"node{i}: served={n.Served} version={n.Cache.Status.Version} leader={n.Coordinator.IsLeader} error={n.Cache.Status.LastError?.Message}"));
}
