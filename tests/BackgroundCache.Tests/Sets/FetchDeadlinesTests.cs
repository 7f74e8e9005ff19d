using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Sets;

/// <summary>
/// An engine's fetch deadlines (issue #21): a FIFO list on the monotonic clock with one item in the scheduler for its
/// head, instead of a heap entry per fetch. A deadline cancels its call's token when it comes, never before, and never
/// once the call ended; the scheduler holds nothing for deadlines once no call is in flight.
/// </summary>
public sealed class FetchDeadlinesTests : IDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 0, 0, 0, TimeSpan.Zero));
    private readonly RefreshScheduler _scheduler;
    private readonly FetchDeadlines _deadlines;

    public FetchDeadlinesTests()
    {
        _scheduler = new RefreshScheduler(_time, ex => throw new InvalidOperationException("a deadline's callback threw", ex));
        _deadlines = new FetchDeadlines(_scheduler, _time);
    }

    public void Dispose() => _scheduler.Dispose();

    [Fact]
    public async Task ManyPendingCalls_OneSchedulerItem_EachCancelledAtItsOwnTimeInOrder()
    {
        var calls = new List<(CancellationTokenSource Call, FetchDeadline Deadline)>();
        for (var i = 0; i < 5; i++)
        {
            var call = new CancellationTokenSource();
            calls.Add((call, FetchDeadline.Start(_deadlines, _time.GetTimestamp(), TimeSpan.FromSeconds(30), call)));
            _time.Advance(TimeSpan.FromSeconds(1)); // started a second apart
        }

        _deadlines.Count.Should().Be(5);
        _scheduler.QueuedCount.Should().Be(1, "one item for the head, not one per call");
        _scheduler.NextDue.Should().Be(_time.GetUtcNow() - TimeSpan.FromSeconds(5) + TimeSpan.FromSeconds(30));

        _time.Advance(TimeSpan.FromSeconds(25) - TimeSpan.FromTicks(1)); // just before the first deadline
        calls.Should().OnlyContain(c => !c.Deadline.HasFired);

        _time.Advance(TimeSpan.FromTicks(1));
        await WaitCancelledAsync(calls[0].Call);
        calls[0].Deadline.HasFired.Should().BeTrue();
        calls.Skip(1).Should().OnlyContain(c => !c.Deadline.HasFired && !c.Call.IsCancellationRequested);
        _scheduler.QueuedCount.Should().Be(1, "the item moved on to the next head");

        _time.Advance(TimeSpan.FromSeconds(2));
        await WaitCancelledAsync(calls[1].Call);
        await WaitCancelledAsync(calls[2].Call);
        calls.Skip(3).Should().OnlyContain(c => !c.Deadline.HasFired);
        _deadlines.Count.Should().Be(2);
    }

    [Fact]
    public void CallsThatEndFirst_AreTakenOut_TheSchedulerItemGoesWithTheLast_NothingFiresLater()
    {
        var first = new CancellationTokenSource();
        var second = new CancellationTokenSource();
        var a = FetchDeadline.Start(_deadlines, _time.GetTimestamp(), TimeSpan.FromSeconds(30), first);
        _time.Advance(TimeSpan.FromSeconds(1));
        var b = FetchDeadline.Start(_deadlines, _time.GetTimestamp(), TimeSpan.FromSeconds(30), second);

        a.Disarm(); // the head ended first: the scheduler's item stays where it was
        _deadlines.Count.Should().Be(1);
        _scheduler.QueuedCount.Should().Be(1);

        _time.Advance(TimeSpan.FromSeconds(29)); // the old head's time: the item fires for nothing and moves on
        second.IsCancellationRequested.Should().BeFalse();
        _scheduler.NextDue.Should().Be(_time.GetUtcNow() + TimeSpan.FromSeconds(1));

        b.Disarm();
        _deadlines.Count.Should().Be(0);
        _scheduler.QueuedCount.Should().Be(0, "no call in flight: nothing scheduled for deadlines");

        _time.Advance(TimeSpan.FromMinutes(5));
        first.IsCancellationRequested.Should().BeFalse();
        second.IsCancellationRequested.Should().BeFalse();
        a.HasFired.Should().BeFalse();
        b.HasFired.Should().BeFalse();
    }

    [Fact]
    public async Task ShorterTimeoutAfterAReload_IsPlacedBeforeTheLongerOnesStillPending_AndComesFirst()
    {
        var longCall = new CancellationTokenSource();
        var shortCall = new CancellationTokenSource();
        var longer = FetchDeadline.Start(_deadlines, _time.GetTimestamp(), TimeSpan.FromMinutes(1), longCall);
        var shorter = FetchDeadline.Start(_deadlines, _time.GetTimestamp(), TimeSpan.FromSeconds(10), shortCall);

        _scheduler.NextDue.Should().Be(_time.GetUtcNow() + TimeSpan.FromSeconds(10), "the new head is earlier: the item moved");

        _time.Advance(TimeSpan.FromSeconds(10));
        await WaitCancelledAsync(shortCall);
        shorter.HasFired.Should().BeTrue();
        longer.HasFired.Should().BeFalse();
        longCall.IsCancellationRequested.Should().BeFalse();

        _time.Advance(TimeSpan.FromSeconds(50));
        await WaitCancelledAsync(longCall);
        _scheduler.QueuedCount.Should().Be(0);
    }

    [Fact]
    public void DisarmAfterItFired_ChangesNothing_AndTheFiredOneIsNotListedAnyMore()
    {
        var call = new CancellationTokenSource();
        var deadline = FetchDeadline.Start(_deadlines, _time.GetTimestamp(), TimeSpan.FromSeconds(1), call);

        _time.Advance(TimeSpan.FromSeconds(1));
        deadline.HasFired.Should().BeTrue();
        _deadlines.Count.Should().Be(0);

        deadline.Disarm();
        deadline.HasFired.Should().BeTrue("the call learns it timed out, whatever it does after");
        _scheduler.QueuedCount.Should().Be(0);
    }

    private static async Task WaitCancelledAsync(CancellationTokenSource call)
    {
        // The deadline cancels on the thread pool (never on the timer's thread).
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = call.Token.Register(() => cancelled.TrySetResult());
        await cancelled.Task.WaitAsync(Guard);
    }
}
