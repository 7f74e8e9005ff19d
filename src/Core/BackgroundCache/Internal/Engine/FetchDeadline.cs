namespace BackgroundCache.Internal.Engine;

/// <summary>
/// The <see cref="RefreshingCacheOptions.FetchTimeout"/> of one upstream call: a node in its engine's
/// <see cref="FetchDeadlines"/>, no timer and no extra token source per attempt (issue #21). When it comes, the call's
/// token source is cancelled on the thread pool, so the token's callbacks (an HTTP call aborting) never run on the timer's
/// thread; a call that ends first takes its deadline out of the list at once.
/// </summary>
internal class FetchDeadline
{
    private const int Unused = 0;
    private const int Armed = 1;
    private const int Fired = 2;
    private const int Disarmed = 3;

    private FetchDeadlines? _list;
    private CancellationTokenSource? _target;
    private int _state;

    /// <summary>Gets a value indicating whether the timeout came before the call ended.</summary>
    public bool HasFired => Volatile.Read(ref _state) == Fired;

    // The list's links and due time; read and written only under the list's lock.
    internal FetchDeadline? Previous { get; set; }

    internal FetchDeadline? Next { get; set; }

    internal long DueTimestamp { get; set; }

    internal bool IsListed { get; set; }

    /// <summary>
    /// Arms a deadline <paramref name="timeout"/> after <paramref name="startedTimestamp"/> (the engine clock's
    /// <see cref="TimeProvider.GetTimestamp"/>) that cancels <paramref name="target"/>: <paramref name="reusable"/> itself
    /// when it was never armed (an attempt's plan is its first deadline: one object fewer per refresh), else a new one.
    /// </summary>
    public static FetchDeadline Start(FetchDeadlines list, long startedTimestamp, TimeSpan timeout, CancellationTokenSource target, FetchDeadline? reusable = null)
    {
        var deadline = reusable is not null && Interlocked.CompareExchange(ref reusable._state, Armed, Unused) == Unused
            ? reusable
            : new FetchDeadline { _state = Armed };
        deadline._list = list;
        deadline._target = target;
        list.Add(deadline, startedTimestamp, timeout);
        return deadline;
    }

    /// <summary>The call ended: takes the deadline out of its list unless it has fired.</summary>
    public void Disarm()
    {
        if (Interlocked.CompareExchange(ref _state, Disarmed, Armed) == Armed)
        {
            _list!.Remove(this);
        }
    }

    /// <summary>The deadline came (its list took it out): cancels the call's token on the thread pool, unless it was disarmed.</summary>
    internal void Fire()
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

/// <summary>
/// An engine's pending <see cref="FetchDeadline"/>s in the order they come due, with one item in the engine's
/// <see cref="RefreshScheduler"/> for the earliest. Every call of an engine has the same <c>FetchTimeout</c>, taken on the
/// monotonic clock, so a new deadline is almost always the latest: adding one and taking one out are O(1) under this
/// list's own lock, instead of an O(log n) move in the scheduler's heap of every key's next refresh under the lock that
/// arms them (issue #21: the deadline was the largest part of a refresh's own CPU after the fetch).
/// </summary>
/// <remarks>
/// The scheduler's item is moved only when the head changes to an earlier time; a head that ended before its deadline
/// leaves the item where it was, and the item, when it comes, fires what is due and moves on to the new head. The item
/// leaves the scheduler when the list empties, so an engine with no call in flight schedules nothing for deadlines.
/// Deadlines are taken on <see cref="TimeProvider.GetTimestamp"/>, so a wall clock set back does not stretch them; the
/// scheduler's item is placed at the matching UTC time when it is armed.
/// </remarks>
internal sealed class FetchDeadlines(RefreshScheduler scheduler, TimeProvider time) : DueTimeHeapItem, ISchedulable
{
    private FetchDeadline? _head;
    private FetchDeadline? _tail;
    private readonly long _frequency = time.TimestampFrequency;
    private long _wakeTimestamp = long.MaxValue; // where the scheduler's item is, on the timestamp clock; MaxValue: not scheduled

    // The list locks on itself (it is never exposed): no lock object per engine, and each single cache has its own engine.
    private object Gate => this;

    /// <summary>Gets the number of pending deadlines (test hook; walks the list).</summary>
    public int Count
    {
        get
        {
            lock (Gate)
            {
                var count = 0;
                for (var d = _head; d is not null; d = d.Next)
                {
                    count++;
                }

                return count;
            }
        }
    }

    /// <summary>Lists <paramref name="deadline"/>, due <paramref name="timeout"/> after <paramref name="startedTimestamp"/>.</summary>
    public void Add(FetchDeadline deadline, long startedTimestamp, TimeSpan timeout)
    {
        var due = startedTimestamp + ToTimestampUnits(timeout);

        lock (Gate)
        {
            deadline.DueTimestamp = due;
            deadline.IsListed = true;

            // From the tail: a deadline taken now with the engine's one timeout is the latest, unless the timeout was just
            // shortened by an options reload (then it walks back past the longer ones still pending).
            var after = _tail;
            while (after is not null && after.DueTimestamp > due)
            {
                after = after.Previous;
            }

            deadline.Previous = after;
            deadline.Next = after is null ? _head : after.Next;
            if (deadline.Next is { } next)
            {
                next.Previous = deadline;
            }
            else
            {
                _tail = deadline;
            }

            if (after is not null)
            {
                after.Next = deadline;
            }
            else
            {
                _head = deadline;
                if (due < _wakeTimestamp)
                {
                    ArmLocked(due);
                }
            }
        }
    }

    /// <summary>Takes <paramref name="deadline"/> out (a call that ended first); the scheduler's item goes when the list empties.</summary>
    public void Remove(FetchDeadline deadline)
    {
        lock (Gate)
        {
            if (!deadline.IsListed)
            {
                return; // taken out as due meanwhile: its Fire finds it disarmed
            }

            UnlinkLocked(deadline);
            if (_head is null && _wakeTimestamp != long.MaxValue)
            {
                _wakeTimestamp = long.MaxValue;
                scheduler.Remove(this);
            }
        }
    }

    /// <inheritdoc />
    public void OnDue(DateTimeOffset now, long dueTicks)
    {
        FetchDeadline? due = null;
        lock (Gate)
        {
            var timestamp = time.GetTimestamp();
            _wakeTimestamp = long.MaxValue;
            while (_head is { } head && head.DueTimestamp <= timestamp)
            {
                UnlinkLocked(head);
                head.Next = due; // a private chain of the due ones; no longer listed
                due = head;
            }

            if (_head is { } next)
            {
                ArmLocked(next.DueTimestamp, timestamp);
            }
            else
            {
                scheduler.Remove(this); // an Add may have moved the item after the scheduler took it out for this call
            }
        }

        while (due is not null)
        {
            var fire = due;
            due = fire.Next;
            fire.Next = null;
            fire.Fire();
        }
    }

    /// <summary>A timeout in the clock's timestamp units (the validator caps FetchTimeout at an hour: no overflow).</summary>
    private long ToTimestampUnits(TimeSpan timeout) =>
        _frequency == TimeSpan.TicksPerSecond ? timeout.Ticks : (long)(timeout.Ticks * ((double)_frequency / TimeSpan.TicksPerSecond));

    private void UnlinkLocked(FetchDeadline deadline)
    {
        if (deadline.Previous is { } previous)
        {
            previous.Next = deadline.Next;
        }
        else
        {
            _head = deadline.Next;
        }

        if (deadline.Next is { } next)
        {
            next.Previous = deadline.Previous;
        }
        else
        {
            _tail = deadline.Previous;
        }

        deadline.Previous = null;
        deadline.Next = null;
        deadline.IsListed = false;
    }

    private void ArmLocked(long dueTimestamp, long? nowTimestamp = null)
    {
        _wakeTimestamp = dueTimestamp;
        var now = time.GetUtcNow().UtcTicks;
        var remaining = Math.Max(0, time.GetElapsedTime(nowTimestamp ?? time.GetTimestamp(), dueTimestamp).Ticks);
        scheduler.Schedule(this, now + Math.Min(remaining, DateTimeOffset.MaxValue.UtcTicks - now));
    }
}
