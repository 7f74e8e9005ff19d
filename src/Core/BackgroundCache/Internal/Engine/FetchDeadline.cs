namespace BackgroundCache.Internal.Engine;

/// <summary>
/// The <see cref="RefreshingCacheOptions.FetchTimeout"/> of one upstream call, as a due time in the engine's
/// <see cref="RefreshScheduler"/>: no timer and no extra token source per attempt (issue #21). When it comes, the call's
/// token source is cancelled on the thread pool, so the token's callbacks (an HTTP call aborting) never run on the timer's
/// thread; a call that ends first takes the deadline out of the scheduler at once.
/// </summary>
internal class FetchDeadline : DueTimeHeapItem, ISchedulable
{
    private const int Unused = 0;
    private const int Armed = 1;
    private const int Fired = 2;
    private const int Disarmed = 3;

    private RefreshScheduler? _scheduler;
    private CancellationTokenSource? _target;
    private int _state;

    /// <summary>Gets a value indicating whether the timeout came before the call ended.</summary>
    public bool HasFired => Volatile.Read(ref _state) == Fired;

    /// <summary>
    /// Arms a deadline <paramref name="timeout"/> from now that cancels <paramref name="target"/>: <paramref name="reusable"/>
    /// itself when it was never armed (an attempt's plan is its first deadline: one object fewer per refresh), else a new one.
    /// </summary>
    public static FetchDeadline Start(RefreshScheduler scheduler, TimeProvider time, TimeSpan timeout, CancellationTokenSource target, FetchDeadline? reusable = null)
    {
        var deadline = reusable is not null && Interlocked.CompareExchange(ref reusable._state, Armed, Unused) == Unused
            ? reusable
            : new FetchDeadline { _state = Armed };
        deadline._scheduler = scheduler;
        deadline._target = target;
        var now = time.GetUtcNow().UtcTicks;
        scheduler.Schedule(deadline, now + Math.Min(Math.Max(0, timeout.Ticks), DateTimeOffset.MaxValue.UtcTicks - now));
        return deadline;
    }

    /// <summary>The call ended: takes the deadline out of the scheduler unless it has fired.</summary>
    public void Disarm()
    {
        if (Interlocked.CompareExchange(ref _state, Disarmed, Armed) == Armed)
        {
            _scheduler!.Remove(this);
        }
    }

    /// <inheritdoc />
    public void OnDue(DateTimeOffset now, long dueTicks)
    {
        if (Interlocked.CompareExchange(ref _state, Fired, Armed) == Armed)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => Cancel((CancellationTokenSource)state!), _target!);
        }
    }

    private static void Cancel(CancellationTokenSource target)
    {
        try
        {
            target.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The attempt ended meanwhile.
        }
    }
}
