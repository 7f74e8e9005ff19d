using System.Collections.Concurrent;
using BackgroundCache.Internal.Engine;

namespace BackgroundCache.Tests.Sets;

/// <summary>
/// The set's fetch budget (issue #21): attempts beyond <c>MaxConcurrentFetches</c> wait as plans, in arrival order, and run
/// when a slot is handed over; a stopping set ends the queued ones at once, even behind fetches that never end.
/// </summary>
public sealed class FetchBudgetTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public void TakeOrQueue_BeyondTheLimit_QueuesInArrivalOrder_AndEachReleaseHandsTheSlotToTheNext()
    {
        var budget = new FetchBudget(2);
        var granted = new List<int>();
        var waiters = Enumerable.Range(0, 5).Select(i => new Waiter(() => granted.Add(i))).ToArray();

        waiters.Select(budget.TakeOrQueue).Should().Equal(true, true, false, false, false);
        budget.Held.Should().Be(2);
        budget.Queued.Should().Be(3);

        budget.Release(runHere: false);
        budget.Release(runHere: true);
        granted.Should().Equal(2, 3);
        waiters[3].RunHere.Should().BeTrue("the second slot came from an attempt that ended on this thread");
        budget.Held.Should().Be(2, "a slot handed over stays held");
        budget.Queued.Should().Be(1);

        budget.Release(runHere: false);
        budget.Release(runHere: false);
        budget.Release(runHere: false);
        granted.Should().Equal(2, 3, 4);
        budget.Held.Should().Be(0);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileQueued_PassesItsTurnToTheNextWaiter()
    {
        var budget = new FetchBudget(1);
        budget.TakeOrQueue(new Waiter(() => { })).Should().BeTrue();
        using var cancel = new CancellationTokenSource();
        var cancelled = budget.AcquireAsync(cancel.Token).AsTask();
        var next = budget.AcquireAsync(CancellationToken.None).AsTask();

        await cancel.CancelAsync();
        await cancelled.Invoking(t => t.WaitAsync(Guard)).Should().ThrowAsync<OperationCanceledException>();
        next.IsCompleted.Should().BeFalse();

        budget.Release(runHere: false);
        (await next.WaitAsync(Guard)).Should().BeSameAs(budget.Lease);
        budget.Held.Should().Be(1);
        budget.Queued.Should().Be(0);
    }

    [Fact]
    public void Close_GrantsEveryWaiterAtOnce_AndLaterTakersNeverWait()
    {
        var budget = new FetchBudget(1);
        var granted = 0;
        budget.TakeOrQueue(new Waiter(() => { })).Should().BeTrue();
        for (var i = 0; i < 3; i++)
        {
            budget.TakeOrQueue(new Waiter(() => granted++)).Should().BeFalse();
        }

        budget.Close();

        granted.Should().Be(3);
        budget.Queued.Should().Be(0);
        budget.TakeOrQueue(new Waiter(() => granted++)).Should().BeTrue();
        budget.Held.Should().Be(5);
    }

    [Fact]
    public async Task Set_AtItsCap_RunsQueuedLoadsInArrivalOrder()
    {
        var order = new ConcurrentQueue<string>();
        await using var h = await SetHarness<string, string>.StartAsync(
            async (_, key, _) =>
            {
                order.Enqueue(key);
                await Task.Yield();
                return key;
            },
            configureSet: o => o.MaxConcurrentFetches = 1);
        var keys = Enumerable.Range(0, 50).Select(i => $"k{i:D2}").ToArray();

        foreach (var key in keys)
        {
            h.Set.GetOrAdd(key);
        }

        await h.QuiesceAsync();

        order.Should().Equal(keys);
        h.Engine.FetchesActive.Should().Be(0);
        h.Engine.FetchesQueued.Should().Be(0);
    }

    [Fact]
    public async Task Stop_BehindFetchesThatNeverEnd_EndsTheQueuedAttemptsWithoutCallingTheirFetch()
    {
        var never = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new ConcurrentQueue<string>();
        var h = await SetHarness<string, string>.StartAsync(
            (_, key, _) =>
            {
                started.Enqueue(key);
                return new ValueTask<string>(never.Task); // ignores its cancellation token
            },
            configureSet: o => o.MaxConcurrentFetches = 2);
        try
        {
            for (var i = 0; i < 10; i++)
            {
                h.Set.GetOrAdd($"k{i}");
            }

            h.Engine.FetchesActive.Should().Be(2);
            h.Engine.FetchesQueued.Should().Be(8);

            using var stop = new CancellationTokenSource(Guard);
            await h.Host.StopAsync(stop.Token);

            stop.IsCancellationRequested.Should().BeFalse("the stop waited for no queued attempt");
            h.Engine.ActiveAttempts.Should().Be(0);
            h.Engine.FetchesQueued.Should().Be(0);
            started.Should().BeSubsetOf(["k0", "k1"], "a queued attempt of a stopped set never calls its fetch");
        }
        finally
        {
            never.TrySetResult("late");
            h.Host.Dispose();
        }
    }

    private sealed class Waiter(Action onGrant) : IFetchSlotWaiter
    {
        public bool RunHere { get; private set; }

        public bool TryGrant(bool runHere)
        {
            RunHere = runHere;
            onGrant();
            return true;
        }
    }
}
