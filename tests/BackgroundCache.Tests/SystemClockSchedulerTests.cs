using BackgroundCache.Internal.Engine;

namespace BackgroundCache.Tests;

/// <summary>
/// On the system clock the scheduler (which withdraws expired values) must not depend on a free thread-pool thread
/// (issue #11, item 3). The withdrawal delay itself is measured with a starved pool in
/// <c>dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios starvation</c>.
/// </summary>
public sealed class SystemClockSchedulerTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Schedule_SystemClock_CallbackRunsOnTheDedicatedTimerThreadNotOnThePool()
    {
        using var scheduler = new RefreshScheduler(TimeProvider.System, _ => { });
        var item = new RecordingItem();

        scheduler.Schedule(item, TimeProvider.System.GetUtcNow().UtcTicks); // due now: no waiting on a real clock

        var thread = await item.Fired.Task.WaitAsync(Guard);
        thread.IsThreadPoolThread.Should().BeFalse("a starved pool must not delay the withdrawal of an expired value");
        thread.Name.Should().Be("BackgroundCache timer");
    }

    [Fact]
    public async Task Schedule_SystemClock_ItemScheduledFromItsCallbackFiresAgain()
    {
        using var scheduler = new RefreshScheduler(TimeProvider.System, _ => { });
        var second = new RecordingItem();
        var first = new RecordingItem(() => scheduler.Schedule(second, TimeProvider.System.GetUtcNow().UtcTicks));

        scheduler.Schedule(first, TimeProvider.System.GetUtcNow().UtcTicks);

        await first.Fired.Task.WaitAsync(Guard);
        (await second.Fired.Task.WaitAsync(Guard)).IsThreadPoolThread.Should().BeFalse();
    }

    [Fact]
    public async Task Schedule_SystemClock_ThrowingCallbackIsReportedAndTheThreadKeepsServing()
    {
        var errors = new List<Exception>();
        using var scheduler = new RefreshScheduler(TimeProvider.System, ex => { lock (errors) { errors.Add(ex); } });
        var after = new RecordingItem();
        var thrower = new RecordingItem(() => throw new InvalidOperationException("boom"));

        scheduler.Schedule(thrower, TimeProvider.System.GetUtcNow().UtcTicks);
        await thrower.Fired.Task.WaitAsync(Guard);
        scheduler.Schedule(after, TimeProvider.System.GetUtcNow().UtcTicks);

        await after.Fired.Task.WaitAsync(Guard);
        lock (errors)
        {
            errors.Should().ContainSingle().Which.Message.Should().Be("boom");
        }
    }

    private sealed class RecordingItem(Action? onDue = null) : DueTimeHeapItem, ISchedulable
    {
        public TaskCompletionSource<Thread> Fired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnDue(DateTimeOffset now, long dueTicks)
        {
            Fired.TrySetResult(Thread.CurrentThread);
            onDue?.Invoke();
        }
    }
}
