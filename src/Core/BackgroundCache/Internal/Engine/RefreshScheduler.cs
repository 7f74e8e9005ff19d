namespace BackgroundCache.Internal.Engine;

/// <summary>Something the <see cref="RefreshScheduler"/> wakes at a due time.</summary>
internal interface ISchedulable
{
    /// <summary>
    /// Called when the due time this item asked for has come. The item compares <paramref name="dueTicks"/> with the wake it
    /// holds now and ignores a superseded one (its state may have changed between the timer's pick and this call).
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
/// An item holds at most one place in the queue (an indexed heap): rescheduling moves it and <see cref="Remove"/> takes it
/// out, both O(log n), so a removed key or a stopped cache is unreachable from the scheduler at once instead of staying
/// queued, with its value, until its old due time (issue #21). Callbacks run outside the scheduler's lock, so an item may
/// schedule again from <see cref="ISchedulable.OnDue"/>.
/// </remarks>
internal sealed class RefreshScheduler : IDisposable
{
    // Timers cap near 49 days; a far due time is waited in steps.
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(7);

    private readonly DueTimeHeap _queue = new();
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

    /// <summary>Gets the scheduler's lock: its heap's monitor, as a <c>Lock</c> object would cost bytes per single cache (issue #21).</summary>
    private object Gate => _queue;

    /// <summary>Gets the number of items queued (each at most once).</summary>
    public int QueuedCount
    {
        get
        {
            lock (Gate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Gets the earliest queued due time, or null (test and benchmark hook).</summary>
    public DateTimeOffset? NextDue
    {
        get
        {
            lock (Gate)
            {
                return _queue.TryPeek(out _, out var ticks) ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;
            }
        }
    }

    /// <summary>Wakes <paramref name="item"/> at <paramref name="dueTicks"/> (UTC ticks), replacing the time it held.</summary>
    public void Schedule<TItem>(TItem item, long dueTicks)
        where TItem : DueTimeHeapItem, ISchedulable
    {
        lock (Gate)
        {
            if (_disposed)
            {
                return;
            }

            _queue.Set(item, dueTicks);
            if (dueTicks < _armedTicks)
            {
                ArmLocked(dueTicks);
            }
        }
    }

    /// <summary>Takes <paramref name="item"/> out of the queue (O(log n)); nothing of it stays reachable from here.</summary>
    public void Remove(DueTimeHeapItem item)
    {
        // Only the owner (under its own lock) puts an item in; the timer only takes items out. A stale "in the queue" read
        // takes the lock for nothing; "not in the queue" cannot be stale for the owner that put it in.
        if (item.HeapIndex < 0)
        {
            return;
        }

        lock (Gate)
        {
            // The timer stays armed: if it fires for nothing it re-arms for the next item.
            _queue.Remove(item);
        }
    }

    public void Dispose()
    {
        lock (Gate)
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
        lock (Gate)
        {
            if (_disposed)
            {
                return;
            }

            now = _time.GetUtcNow();
            while (_queue.TryPeek(out var item, out var ticks) && ticks <= now.UtcTicks)
            {
                _queue.Dequeue();
                (due ??= []).Add(((ISchedulable)item!, ticks));
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
internal sealed class ScheduledAction(RefreshScheduler scheduler, Action<DateTimeOffset> run) : DueTimeHeapItem, ISchedulable
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

    public void Cancel()
    {
        Interlocked.Exchange(ref _ticks, long.MaxValue);
        scheduler.Remove(this);
    }

    public void OnDue(DateTimeOffset now, long dueTicks)
    {
        if (Interlocked.CompareExchange(ref _ticks, long.MaxValue, dueTicks) == dueTicks)
        {
            run(now);
        }
    }
}
