using System.Diagnostics;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// One process-wide thread that fires the <see cref="RefreshScheduler"/> timers of caches on the system clock, so that
/// withdrawing an expired value never waits for a free thread-pool thread.
/// </summary>
/// <remarks>
/// <para>A <see cref="TimeProvider.System"/> timer queues its callback to the thread pool: when every pool thread is blocked
/// (sync-over-async code, a burst of blocking calls) the callback waits until the pool injects a thread, which took 0.5 to
/// 1 s in our measurements and 10 s in a user's report, and an expired token was served all that time. A read-side
/// expiry check would cost a clock read on every read (24 ns against a 0.8 ns read, docs/benchmarks.md). Instead, these
/// timers run their callbacks on this dedicated thread; the callbacks only change state under short locks and queue the
/// real work (fetches) to the pool, so one thread serves every cache of the process.</para>
/// <para>The thread starts with the first timer and ends when the last one is disposed. Timers are one-shot (the only
/// use the scheduler has); armed timers wait in an indexed heap, so arming, disarming and disposing one is O(log n) and the
/// thread never rescans them all (10,000 single caches started and stopped in linear time, issue #21).</para>
/// </remarks>
internal static class SystemClockTimerThread
{
    private static readonly object Sync = new();
    private static readonly DueTimeHeap Armed = new();
    private static int _timers;
    private static Thread? _thread;
    private static long _threadsStarted;

    /// <summary>Gets how many times the thread was started (test hook).</summary>
    public static long ThreadsStarted => Interlocked.Read(ref _threadsStarted);

    /// <summary>Gets the managed thread id of the running thread, or null (test hook).</summary>
    public static int? ThreadId
    {
        get
        {
            lock (Sync)
            {
                return _thread?.ManagedThreadId;
            }
        }
    }

    /// <summary>Creates a one-shot timer, disarmed, whose callback runs on the dedicated thread.</summary>
    /// <param name="callback">The callback.</param>
    /// <param name="state">The callback's argument.</param>
    /// <param name="onError">Receives an exception the callback throws (the thread survives it).</param>
    public static ITimer Create(TimerCallback callback, object? state, Action<Exception> onError)
    {
        var timer = new Timer(callback, state, onError);
        lock (Sync)
        {
            _timers++;
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "BackgroundCache timer" };
                _thread.Start();
                Interlocked.Increment(ref _threadsStarted);
            }
        }

        return timer;
    }

    private static void Run()
    {
        List<Timer>? due = null;
        while (true)
        {
            lock (Sync)
            {
                if (_timers == 0)
                {
                    _thread = null;
                    return;
                }

                var now = Stopwatch.GetTimestamp();
                while (Armed.TryPeek(out var earliest, out var dueTimestamp) && dueTimestamp <= now)
                {
                    Armed.Dequeue();
                    (due ??= []).Add((Timer)earliest!);
                }

                if (due is null || due.Count == 0)
                {
                    if (!Armed.TryPeek(out _, out var next))
                    {
                        Monitor.Wait(Sync);
                    }
                    else
                    {
                        // Round up: waking a millisecond late is fine, waking early only loops once more.
                        var wait = Stopwatch.GetElapsedTime(now, next);
                        var milliseconds = Math.Min(Math.Ceiling(wait.TotalMilliseconds), int.MaxValue - 1);
                        Monitor.Wait(Sync, (int)milliseconds);
                    }

                    continue;
                }
            }

            foreach (var timer in due)
            {
                timer.Fire();
            }

            due.Clear();
        }
    }

    private static void Change(Timer timer, long dueTimestamp)
    {
        lock (Sync)
        {
            if (dueTimestamp == long.MaxValue || !timer.Counted)
            {
                Armed.Remove(timer); // disarmed: the thread may wake once for nothing, never misses a timer
                return;
            }

            var wasEarliest = !Armed.TryPeek(out _, out var earliest) || dueTimestamp < earliest;
            Armed.Set(timer, dueTimestamp);
            if (wasEarliest)
            {
                Monitor.Pulse(Sync);
            }
        }
    }

    private static void Remove(Timer timer)
    {
        lock (Sync)
        {
            if (timer.Counted)
            {
                timer.Counted = false;
                Armed.Remove(timer);
                if (--_timers == 0)
                {
                    Monitor.Pulse(Sync);
                }
            }
        }
    }

    /// <summary>A one-shot timer on the dedicated thread.</summary>
    private sealed class Timer(TimerCallback callback, object? state, Action<Exception> onError) : DueTimeHeapItem, ITimer
    {
        private volatile bool _disposed;

        /// <summary>Gets or sets a value indicating whether the timer counts towards the thread's life. Guarded by the thread's lock.</summary>
        public bool Counted { get; set; } = true;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (period != Timeout.InfiniteTimeSpan)
            {
                throw new NotSupportedException("Timers on the BackgroundCache timer thread are one-shot.");
            }

            if (_disposed)
            {
                return false;
            }

            var due = dueTime == Timeout.InfiniteTimeSpan
                ? long.MaxValue
                : Stopwatch.GetTimestamp() + (long)(Math.Max(0, dueTime.TotalSeconds) * Stopwatch.Frequency);
            SystemClockTimerThread.Change(this, due);
            return true;
        }

        public void Fire()
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                callback(state);
            }
            catch (Exception ex)
            {
                onError(ex);
            }
        }

        public void Dispose()
        {
            _disposed = true;
            Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
