namespace BackgroundCache.Internal.Engine;

/// <summary>Something the <see cref="RefreshScheduler"/> wakes at a due time.</summary>
internal interface ISchedulable
{
    /// <summary>
    /// Called when a due time this item asked for has come. The item compares <paramref name="dueTicks"/> with the wake it
    /// holds now and ignores a superseded one (the queue never removes an item; it only adds the new time).
    /// </summary>
    void OnDue(DateTimeOffset now, long dueTicks);
}

/// <summary>
/// Many due times on one timer: a priority queue ordered by due time and a single <see cref="ITimer"/> armed for the
/// earliest. A cache or a whole set of thousands of keys costs one timer, as the runtime's own <c>TimerQueue</c> does.
/// On <see cref="TimeProvider.System"/> that timer fires on the <see cref="SystemClockTimerThread"/>, so callbacks (a
/// value's withdrawal at expiry above all) never wait for a thread-pool thread; they must stay short and never block.
/// </summary>
/// <remarks>
/// Rescheduling an item adds its new time and leaves the old one in the queue: when it comes due the item sees that it no
/// longer holds that time and ignores it (lazy deletion keeps <see cref="Schedule"/> at O(log n)). Callbacks run outside
/// the scheduler's lock, so an item may schedule again from <see cref="ISchedulable.OnDue"/>.
/// </remarks>
internal sealed class RefreshScheduler : IDisposable
{
    // Timers cap near 49 days; a far due time is waited in steps.
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(7);

    private readonly Lock _gate = new();
    private readonly PriorityQueue<ISchedulable, long> _queue = new();
    private readonly TimeProvider _time;
    private readonly Action<Exception> _onCallbackError;
    private readonly ITimer _timer;
    private long _armedTicks = long.MaxValue;
    private bool _disposed;

    public RefreshScheduler(TimeProvider time, Action<Exception> onCallbackError)
    {
        _time = time;
        _onCallbackError = onCallbackError;
        // On the system clock the callback runs on a dedicated thread, not the pool: a starved pool never delays the
        // withdrawal of an expired value (issue #11). Other clocks (FakeTimeProvider in tests) keep their own timers.
        _timer = ReferenceEquals(time, TimeProvider.System)
            ? SystemClockTimerThread.Create(static state => ((RefreshScheduler)state!).OnTimer(), this, onCallbackError)
            : time.CreateTimer(static state => ((RefreshScheduler)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Gets the number of due times queued, superseded ones included.</summary>
    public int QueuedCount
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Gets the earliest queued due time (superseded ones included), or null (test and benchmark hook).</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (_gate)
            {
                return _queue.TryPeek(out _, out var ticks) ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
            }
        }
    }

    /// <summary>Wakes <paramref name="item"/> at <paramref name="dueTicks"/> (UTC ticks).</summary>
    public void Schedule(ISchedulable item, long dueTicks)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _queue.Enqueue(item, dueTicks);
            if (dueTicks < _armedTicks)
            {
                ArmLocked(dueTicks);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _queue.Clear();
        }

        _timer.Dispose();
    }

    private void ArmLocked(long dueTicks)
    {
        _armedTicks = dueTicks;
        var delay = TimeSpan.FromTicks(Math.Max(0, dueTicks - _time.GetUtcNow().UtcTicks));
        _timer.Change(delay < MaxTimerDelay ? delay : MaxTimerDelay, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer()
    {
        List<(ISchedulable Item, long Ticks)>? due = null;
        DateTimeOffset now;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            now = _time.GetUtcNow();
            while (_queue.TryPeek(out var item, out var ticks) && ticks <= now.UtcTicks)
            {
                _queue.Dequeue();
                (due ??= []).Add((item, ticks));
            }

            _armedTicks = long.MaxValue;
            if (_queue.TryPeek(out _, out var next))
            {
                ArmLocked(next);
            }
        }

        if (due is null)
        {
            return;
        }

        foreach (var (item, ticks) in due)
        {
            try
            {
                item.OnDue(now, ticks);
            }
            catch (Exception ex)
            {
                // An item's callback never stops the others (nor the timer's thread).
                _onCallbackError(ex);
            }
        }
    }
}

/// <summary>A callback with one due time at a time, for work a set schedules besides its keys (a probe, a sweep).</summary>
internal sealed class ScheduledAction(RefreshScheduler scheduler, Action<DateTimeOffset> run) : ISchedulable
{
    private long _ticks = long.MaxValue;

    public void ScheduleAt(DateTimeOffset due)
    {
        var ticks = due.UtcTicks;
        if (Interlocked.Exchange(ref _ticks, ticks) != ticks)
        {
            scheduler.Schedule(this, ticks);
        }
    }

    public void Cancel() => Interlocked.Exchange(ref _ticks, long.MaxValue);

    public void OnDue(DateTimeOffset now, long dueTicks)
    {
        if (Interlocked.CompareExchange(ref _ticks, long.MaxValue, dueTicks) == dueTicks)
        {
            run(now);
        }
    }
}
