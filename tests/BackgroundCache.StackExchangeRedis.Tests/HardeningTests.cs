using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// Defects found by trying to break the second release (issue #18): a report lost right after start, a refresh failing
/// while Redis restarts, writes lost by a snapshot restore. Each against real redis-server processes.
/// </summary>
[Collection(RedisTests.Name)]
public sealed class HardeningTests(RedisFixture redis)
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task ReportOnAFollowerRightAfterStart_IsAnsweredByANewValue_TwentyRounds()
    {
        for (var round = 0; round < 20; round++)
        {
            var (time, upstream, prefix) = Setup();
            var leaderFetching = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var a = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, async _ =>
            {
                if (upstream.Calls == 0)
                {
                    leaderFetching.TrySetResult();
                    await release.Task;
                }

                return upstream.Issue();
            }, waitForValue: false);
            await leaderFetching.Task.WaitAsync(Guard);

            // The third instance starts while the first fetch is on its way: its own first attempt waits for the leader and
            // is held just before it returns the shared value, which a notification publishes meanwhile.
            await using var b = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()), waitForValue: false);
            var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var c = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()), waitForValue: false, beforeStart: host =>
                host.Services.GetRequiredKeyedService<Internal.RedisCacheCoordinator<string>>(PlainNode.Name).BeforeReturningShared = async () =>
                {
                    if (held.TrySetResult())
                    {
                        await resume.Task; // the first shared value only
                    }
                });

            release.SetResult();
            var first = await c.Cache.GetAsync().AsTask().WaitAsync(Guard);
            await held.Task.WaitAsync(Guard);
            first.Should().Be("t1");

            var report = c.Cache.InvalidateAsync(first);
            resume.SetResult();

            // Before: the report joined the first attempt and was answered with t1 itself, without an upstream call.
            (await report.WaitAsync(Guard)).Should().Be("t2", $"round {round}");
            upstream.Calls.Should().Be(2, $"round {round}");
            await Eventually.TrueAsync(() => new[] { a, b, c }.All(n => n.Served == "t2"), () => $"round {round}: {a.Served} {b.Served} {c.Served}");
        }
    }

    [SkippableFact]
    public async Task ForcedRefreshAndReportRightAfterRedisRestartsOnTheSamePort_WaitForTheConnection_AndSucceed()
    {
        await using var server = await RedisServer.StartAsync(persistent: true);
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        var snapshot = await server.SnapshotAsync();

        await server.RestartFromSnapshotAsync(snapshot); // the same data, the same port; the clients reconnect

        // Before: RedisCoordinationException at once while the connection was being re-established.
        var refreshed = await b.Cache.RefreshAsync().WaitAsync(Guard);
        refreshed.Should().Be("t2");
        await Eventually.TrueAsync(() => a.Served == "t2", () => a.Served ?? "(none)"); // a report names a value the instance served
        await server.RestartFromSnapshotAsync(await server.SnapshotAsync());
        (await a.Cache.InvalidateAsync("t2").WaitAsync(Guard)).Should().Be("t3");
        upstream.Calls.Should().Be(3);
        await Eventually.TrueAsync(() => a.Served == "t3" && b.Served == "t3", () => $"{a.Served} {b.Served}");
    }

    [SkippableFact]
    public async Task RedisRestoredFromAnOlderSnapshot_TheNewerValueIsWrittenBack_NeverAdopted()
    {
        await using var server = await RedisServer.StartAsync(persistent: true);
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync();
        var older = await server.SnapshotAsync(); // holds t1

        (await a.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t2"); // t1 condemned upstream
        await Eventually.TrueAsync(() => b.Served == "t2");
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync(); // a poll ran before the loss: both saw t2's write

        await server.RestartFromSnapshotAsync(older); // t1 again, and the write counter before t2's write
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync();

        // Before: every instance adopted t1 (forced: "Redis is the reference"), and Redis kept it for good.
        await Eventually.TrueAsync(async () => await StoredAsync(server, prefix) == "t2", () => $"stored: {StoredAsync(server, prefix).Result}");
        new[] { a, b }.Should().OnlyContain(n => n.Served == "t2");
        await using var c = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        c.Served.Should().Be("t2", "an instance that starts now takes the repaired value");
        upstream.Calls.Should().Be(2);
    }

    [SkippableFact]
    public async Task RestoreThatKeepsTheWriteCount_IsDetectedByTheWriteId_AndRepaired()
    {
        await using var server = await RedisServer.StartAsync(persistent: true);
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        var older = await server.SnapshotAsync(); // t1, write count n
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync();

        (await a.Cache.RefreshAsync().WaitAsync(Guard)).Should().Be("t2"); // write n + 1, seen by both
        await Eventually.TrueAsync(() => b.Served == "t2");
        await server.RestartFromSnapshotAsync(older);

        // Redis holds t1 and the count n that the last poll saw: the count alone says "in sync".
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync();

        await Eventually.TrueAsync(async () => await StoredAsync(server, prefix) == "t2", () => $"stored: {StoredAsync(server, prefix).Result}");
        new[] { a, b }.Should().OnlyContain(n => n.Served == "t2");
        upstream.Calls.Should().Be(2);
    }

    [SkippableFact]
    public async Task ValueTakenFromRedisInAnswerToAReport_DoesNotArmTheCooldown_ButTheLeadersConfirmationAnswersAtOnce()
    {
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));

        (await b.Cache.InvalidateAsync("t1").WaitAsync(Guard)).Should().Be("t2");
        (await b.Cache.InvalidateAsync("t2").WaitAsync(Guard)).Should().Be("t2", "the leader fetched t2 for a report moments ago: it stands");
        upstream.Calls.Should().Be(2);

        // Past the cooldown, a report is answered by a new value.
        time.Advance(TimeSpan.FromMinutes(10));
        (await b.Cache.InvalidateAsync("t2").WaitAsync(Guard)).Should().Be("t3");
    }

    [SkippableFact]
    public async Task LeaderThatAdoptsItsOwnAnswerToAReportFromItsNotification_StillArmsTheCooldown()
    {
        var (time, upstream, prefix) = Setup();
        await using var a = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        await using var b = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()));
        a.Coordinator.IsLeader.Should().BeTrue("the first instance fetched t1");

        // The leader's write of its answer (t2) notifies every instance, itself included. On a loaded machine that
        // notification can be adopted before the leader's refresh returns t2 to its entry: forced here by a poll, run in
        // order with the notifications, while the leader's refresh is held just after its write.
        var servedBeforeReturn = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        a.Coordinator.AfterStoringFetched = async () =>
        {
            await a.Coordinator.PollNowAsync();
            servedBeforeReturn.TrySetResult(a.Served);
        };

        (await b.Cache.InvalidateAsync("t1").WaitAsync(Guard)).Should().Be("t2");
        (await servedBeforeReturn.Task.WaitAsync(Guard)).Should().Be("t2", "the leader adopted its own write before its refresh returned");
        a.Coordinator.AfterStoringFetched = null;
        var refresher = a.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<string>>(PlainNode.Name);
        await Eventually.TrueAsync(() => refresher.IsWaiting); // the leader's refresh ended

        // Before: the adopted t2 did not count as fetched for a report, and the leader answered the second report with t3.
        (await b.Cache.InvalidateAsync("t2").WaitAsync(Guard)).Should().Be("t2", "the leader fetched t2 for a report moments ago: it stands");
        (await a.Cache.InvalidateAsync("t2").WaitAsync(Guard)).Should().Be("t2");
        upstream.Calls.Should().Be(2);
    }

    [SkippableFact]
    public async Task RequestReadWhileTheLeadersFirstFetchEnds_IsAnsweredByTheStoredValue_OneUpstreamCall()
    {
        var (time, upstream, prefix) = Setup();
        var leaderFetching = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFetch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fetchedAgain = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var requestRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var act = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var answeredFromRedis = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var a = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, async _ =>
        {
            if (upstream.Calls == 0)
            {
                leaderFetching.TrySetResult();
                await releaseFetch.Task;
            }
            else
            {
                fetchedAgain.TrySetResult();
            }

            return upstream.Issue();
        }, waitForValue: false, beforeStart: host =>
        {
            var coordinator = host.Services.GetRequiredKeyedService<Internal.RedisCacheCoordinator<string>>(PlainNode.Name);
            coordinator.BeforeAnsweringRequest = async () =>
            {
                if (requestRead.TrySetResult())
                {
                    await act.Task; // the first request only
                }
            };
            coordinator.BeforeReturningShared = () =>
            {
                answeredFromRedis.TrySetResult();
                return Task.CompletedTask;
            };
        });
        await leaderFetching.Task.WaitAsync(Guard);

        // A second instance starts while the leader's first fetch is under way: it finds the lease held and asks the
        // leader, which reads its entry (no value yet) and is held there.
        await using var b = await PlainNode.StartAsync(redis.Server.Configuration, prefix, time, _ => Task.FromResult(upstream.Issue()), waitForValue: false);
        await requestRead.Task.WaitAsync(Guard);

        // The leader's first fetch ends, stores t1 and publishes it before the leader acts on the request.
        releaseFetch.SetResult();
        (await a.Cache.GetAsync().AsTask().WaitAsync(Guard)).Should().Be("t1");
        act.SetResult();

        // Before: the leader, idle again, refreshed for the request it had read without a value: a second upstream call.
        await Task.WhenAny(answeredFromRedis.Task, fetchedAgain.Task).WaitAsync(Guard);
        fetchedAgain.Task.IsCompleted.Should().BeFalse("the request is answered by the value stored after it was read");
        (await b.Cache.GetAsync().AsTask().WaitAsync(Guard)).Should().Be("t1");
        await a.Coordinator.PollNowAsync();
        await b.Coordinator.PollNowAsync();
        upstream.Calls.Should().Be(1);
        new[] { a, b }.Should().OnlyContain(n => n.Served == "t1");
    }

    private static async Task<string?> StoredAsync(RedisServer server, string prefix)
    {
        await using var admin = await server.AdminAsync();
        var raw = (byte[]?)await admin.GetDatabase().HashGetAsync(Internal.RedisKeyNames.Registration(prefix, PlainNode.Name + ":String") + ":values", string.Empty);
        return Internal.RedisRecord.Parse(raw) is { } record ? System.Text.Json.JsonSerializer.Deserialize<string>(record.Data.Span) : null;
    }

    private static (FakeTimeProvider Time, ClassicUpstream Upstream, string Prefix) Setup()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero));
        return (time, new ClassicUpstream(time), $"hard:{Guid.NewGuid():N}:");
    }
}
