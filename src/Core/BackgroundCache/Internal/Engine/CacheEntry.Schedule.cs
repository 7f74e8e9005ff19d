namespace BackgroundCache.Internal.Engine;

/// <summary>Lifecycle and schedule: start, resume, park, stop, the scheduler's wake, and when an attempt begins.</summary>
internal partial class CacheEntry<T>
{
    /// <summary>
    /// Starts the entry: a value already published (a coordinator's shared value) is refreshed on its schedule; otherwise the
    /// first fetch starts now. Idempotent.
    /// </summary>
    public void Start(DateTimeOffset now)
    {
        AttemptPlan? plan = null;
        var idle = false;
        lock (Gate)
        {
            if (_state != EntryState.NotStarted)
            {
                return;
            }

            StartTime = now;
            _state = EntryState.Idle;
            if (_current is { } adopted && _pending is null)
            {
                DueTime = now + RefreshPolicy.AfterSuccess(_engine.Options, adopted.ExpiresAt, now, _engine.SpreadRefreshes, _engine.Renewal);
                ArmLocked();
                idle = true;
            }
            else
            {
                plan = BeginAttemptLocked(now, onTime: false);
            }
        }

        Launch(plan);
        if (idle)
        {
            _engine.NotifyIdle(this);
        }
    }

    /// <summary>Resumes a parked entry (its set's outage ended, or it was picked as the probe).</summary>
    public void Resume(DateTimeOffset now)
    {
        AttemptPlan? plan;
        lock (Gate)
        {
            if (_state != EntryState.Parked)
            {
                return;
            }

            _state = EntryState.Idle;
            plan = BeginAttemptLocked(now, onTime: false);
        }

        Launch(plan);
    }

    /// <summary>Stops the entry for good: no more refreshes; its fetch is cancelled; waiting callers are released.</summary>
    public void Stop()
    {
        TaskCompletionSource<T>? pending;
        TaskCompletionSource<T>? inflight;
        CancellationTokenSource? attempt;
        lock (Gate)
        {
            if (_state == EntryState.Stopped)
            {
                return;
            }

            _state = EntryState.Stopped;
            DueTime = null;
            _wakeTicks = NoWake;
            _engine.Scheduler.Remove(this); // nothing of a removed key stays reachable from the scheduler (issue #21)
            pending = _pending;
            inflight = _inflight;
            _pending = null;
            _inflight = null;
            attempt = _attemptCts;
            SignalChangedLocked();
        }

        pending?.TrySetCanceled();
        inflight?.TrySetCanceled();
        try
        {
            attempt?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The attempt ended meanwhile.
        }
    }

    /// <inheritdoc />
    void ISchedulable.OnDue(DateTimeOffset now, long dueTicks)
    {
        AttemptPlan? plan = null;
        CacheSnapshot<T>? retired = null;
        DateTimeOffset retiredAt = default;
        lock (Gate)
        {
            if (dueTicks != _wakeTicks || _state == EntryState.Stopped)
            {
                return; // Superseded by a later schedule.
            }

            _wakeTicks = NoWake;
            if (_current is { } current && RetireTime is { } retireAt && retireAt <= now)
            {
                retired = current;
                retiredAt = retireAt;
                SetCurrentLocked(null);
                RetireTime = null;
                SignalChangedLocked();
            }

            if (_state == EntryState.Idle && DueTime is { } due && due <= now)
            {
                plan = BeginAttemptLocked(now, onTime: true);
            }
            else
            {
                ArmLocked();
            }
        }

        if (retired is not null)
        {
            Log.ValueExpired(_engine.Logger, DisplayName, retired.Version, retiredAt);
            foreach (var observer in _engine.Observers)
            {
                try
                {
                    observer.OnRetired(retired);
                }
                catch (Exception ex)
                {
                    Log.ObserverFailed(_engine.Logger, ex, DisplayName, retired.Version);
                }
            }
        }

        Launch(plan);
    }

    private void Park(AttemptPlan plan)
    {
        var now = _engine.Time.GetUtcNow();
        lock (Gate)
        {
            if (_state != EntryState.Running)
            {
                return;
            }

            _state = EntryState.Parked;

            // The attempt's callers wait for the attempt that resumes it.
            _pending = plan.Request ?? _inflight;
            if (plan.Request is not null && _inflight is not null)
            {
                var joined = _inflight;
                _ = plan.Request.Task.ContinueWith(
                    static (t, s) => CopyOutcome(t, (TaskCompletionSource<T>)s!),
                    joined,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }

            _inflight = null;
            PendingRejected = plan.Rejected;
            ArmLocked();
        }

        _engine.Park(this, now);
    }

    private AttemptPlan? StartIfIdleLocked() =>
        _state == EntryState.Idle ? BeginAttemptLocked(_engine.Time.GetUtcNow(), onTime: false) : null;

    private AttemptPlan? BeginAttemptLocked(DateTimeOffset now, bool onTime)
    {
        var request = _pending;
        var requested = request is not null;
        if (requested && BlockedUntilTime is { } blockedUntil && now < blockedUntil && _lastError is { } blockingError)
        {
            // The upstream asked not to be called before blockedUntil (a quota): answer with its error, keep the schedule.
            _pending = null;
            PendingRejected = null;
            Log.OnDemandRefreshBlocked(_engine.Logger, DisplayName, blockedUntil);
            Fail(request, blockingError);
            ArmLocked();
            return null;
        }

        var plan = new AttemptPlan(
            this,
            request,
            requested && ReferenceEquals(PendingRejected, _current) ? PendingRejected : null,
            _current?.Version ?? 0,
            requested,
            onTime && !requested);
        _pending = null;
        PendingRejected = null;
        RunningRejected = plan.Rejected;
        ReportedDuringAttempt = null;
        RefreshedDuringAttempt = 0;
        _state = EntryState.Running;
        LastAttemptTime = now;
        ArmLocked();
        return plan;
    }

    private void Launch(AttemptPlan? plan)
    {
        if (plan is not null)
        {
            _engine.Launch(this, plan);
        }
    }

    /// <summary>Holds one wake in the scheduler: the earlier of the next refresh (while idle) and the value's withdrawal.</summary>
    private void ArmLocked()
    {
        var wake = NoWake;
        if (_state == EntryState.Idle && DueTime is { } due)
        {
            wake = due.UtcTicks;
        }

        if (_current is not null && RetireTime is { } retireAt && retireAt.UtcTicks < wake)
        {
            wake = retireAt.UtcTicks;
        }

        if (wake != _wakeTicks)
        {
            _wakeTicks = wake;
            if (wake != NoWake)
            {
                _engine.Scheduler.Schedule(this, wake);
            }
            else
            {
                _engine.Scheduler.Remove(this);
            }
        }
    }
}
