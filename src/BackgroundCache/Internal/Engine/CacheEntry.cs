using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using BackgroundCache.Coordination;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// One value's state machine: its snapshot, schedule, expiry, failures and pending requests. A single cache drives one
/// entry; a set drives one per key. A bug fixed here is fixed everywhere.
/// </summary>
/// <remarks>
/// <para>Reads are a volatile read of <see cref="_current"/>: no lock, no clock, no allocation. Everything else happens
/// under <see cref="_gate"/>, and nothing that calls out (the engine, observers, user code, task continuations that run
/// synchronously) is called while it is held.</para>
/// <para>States: NotStarted → Idle ⇄ Running (one attempt at a time) ⇄ Parked (a set backing off as a whole) → Stopped.
/// While Idle the entry holds one wake in the scheduler: the earlier of its next refresh and its value's withdrawal.</para>
/// </remarks>
/// <typeparam name="T">The type of the cached value.</typeparam>
internal class CacheEntry<T> : DueTimeHeapItem, IRefreshingCache<T>, ISchedulable
{
    private const long NoWake = long.MaxValue;

    private readonly CacheEngine<T> _engine;
    private readonly object _gate; // the entry itself (Monitor): a Lock object would cost 40 B per key of a set (issue #21)
    private volatile CacheSnapshot<T>? _current;
    private volatile bool _touched;
    private EntryState _state;
    private long _version;
    private int _failures;
    private Exception? _lastError;
    private UtcTime? _startedAt; // UtcTime: 16 bytes where a DateTimeOffset? takes 24 (issue #21)
    private UtcTime? _lastAttemptAt;
    private UtcTime? _blockedUntil;
    private UtcTime? _due;
    private UtcTime? _retireAt;
    private long _wakeTicks = NoWake;
    private TaskCompletionSource<T>? _pending;
    private CacheSnapshot<T>? _pendingRejected;
    private CacheSnapshot<T>? _runningRejected;
    private CacheSnapshot<T>? _reportedDuringAttempt;
    private TaskCompletionSource<T>? _inflight;
    private TaskCompletionSource? _changed;
    private CancellationTokenSource? _attemptCts;
    private Task? _abandoned;
    private CoordinatedEntry<T>? _coordination;

    public CacheEntry(CacheEngine<T> engine)
    {
        _engine = engine;
        _gate = this;
    }

    private enum EntryState : byte
    {
        NotStarted,
        Idle,
        Running,
        Parked,
        Stopped,
    }

    /// <summary>Gets the name used in logs, statuses and exceptions.</summary>
    public virtual string DisplayName => _engine.Name;

    /// <summary>Gets the key of the entry in a shared store (<c>""</c> for a single cache).</summary>
    public virtual string CoordinationKey => string.Empty;

    /// <summary>Gets the published snapshot, or null.</summary>
    public CacheSnapshot<T>? Current => _current;

    /// <summary>Gets what a coordinator sees of this entry: another object, so a reader holding the entry cannot reach it.</summary>
    public ICoordinatedEntry<T> Coordination => Volatile.Read(ref _coordination) ?? CoordinatedEntry<T>.Attach(this, ref _coordination);

    /// <summary>Gets the consecutive failures without taking the lock (metrics).</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _failures);

    /// <summary>Gets a value indicating whether the entry waits for its next due time (test and benchmark hook).</summary>
    public bool IsWaiting
    {
        get
        {
            lock (_gate)
            {
                return _state == EntryState.Idle && _wakeTicks != NoWake;
            }
        }
    }

    /// <summary>Gets a value indicating whether the entry is parked by a set that backs off as a whole.</summary>
    public bool IsParked
    {
        get
        {
            lock (_gate)
            {
                return _state == EntryState.Parked;
            }
        }
    }

    /// <summary>Gets a value indicating whether there is a request (<c>RefreshAsync</c>, <c>Invalidate</c>) waiting.</summary>
    public bool HasPendingRequest
    {
        get
        {
            lock (_gate)
            {
                return _pending is not null;
            }
        }
    }

    /// <summary>Gets the entry's state without building a status (a set's health check counts thousands).</summary>
    public RefreshingCacheState State
    {
        get
        {
            lock (_gate)
            {
                return StateLocked();
            }
        }
    }

    /// <inheritdoc />
    public RefreshingCacheStatus Status
    {
        get
        {
            lock (_gate)
            {
                var current = _current;
                return new RefreshingCacheStatus
                {
                    Name = DisplayName,
                    State = StateLocked(),
                    Version = current?.Version ?? 0,
                    LastRefreshedAt = current?.FetchedAt,
                    ExpiresAt = current?.ExpiresAt,
                    NextRefreshAt = _state switch
                    {
                        EntryState.Idle or EntryState.Running => _due, // while running: the due time that started it
                        EntryState.Parked => _engine.ParkedUntil,
                        _ => null,
                    },
                    LastAttemptAt = _lastAttemptAt,
                    ConsecutiveFailures = _failures,
                    LastError = _lastError ?? (current is null ? _engine.SharedError : null),
                    WaitingForRenewalWindow = _state == EntryState.Idle && _failures == 0
                        && RefreshPolicy.WaitsForRenewalWindow(_engine.Options, current?.ExpiresAt, _engine.Renewal),
                };
            }
        }
    }

    private RefreshingCacheState StateLocked()
    {
        if (_state == EntryState.Stopped)
        {
            return RefreshingCacheState.Stopped;
        }

        if (_current is null)
        {
            return _failures > 0 || _version > 0 ? RefreshingCacheState.Unavailable : RefreshingCacheState.Loading;
        }

        return _failures > 0 ? RefreshingCacheState.Stale : RefreshingCacheState.Fresh;
    }

    /// <summary>Reads and clears the "read since the last sweep" mark (a set's idle eviction).</summary>
    public bool TakeTouched()
    {
        if (!_touched)
        {
            return false;
        }

        _touched = false;
        return true;
    }

    /// <inheritdoc />
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        if (!_touched)
        {
            _touched = true;
        }

        var snapshot = _current;
        if (snapshot is null)
        {
            value = default;
            return false;
        }

        value = snapshot.Value;
        return true;
    }

    /// <inheritdoc />
    public ValueTask<T> GetAsync(CancellationToken cancellationToken = default)
    {
        if (!_touched)
        {
            _touched = true;
        }

        var snapshot = _current;
        return snapshot is not null ? new ValueTask<T>(snapshot.Value) : GetSlowAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task<T> RefreshAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<T> request;
        AttemptPlan? plan = null;
        lock (_gate)
        {
            if (_state == EntryState.Stopped)
            {
                return Task.FromException<T>(Unavailable($"Cache '{DisplayName}' has stopped."));
            }

            if (_state == EntryState.Running)
            {
                request = _inflight ??= NewRequest();
            }
            else
            {
                request = _pending ??= NewRequest();
                plan = StartIfIdleLocked();
            }
        }

        Launch(plan);
        return request.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public void Invalidate(T rejectedValue)
    {
        var snapshot = _current;
        if (snapshot is not null && !EqualityComparer<T>.Default.Equals(snapshot.Value, rejectedValue))
        {
            return; // The cache has already moved on.
        }

        var cooldown = _engine.Options.InvalidationCooldown;
        var now = _engine.Time.GetUtcNow();
        AttemptPlan? plan = null;
        var confirmed = false;
        lock (_gate)
        {
            if (_state is EntryState.Stopped || !ReferenceEquals(_current, snapshot) || _pending is not null)
            {
                return;
            }

            if (_state == EntryState.Running)
            {
                NoteReportDuringAttemptLocked(snapshot);
                return;
            }

            if (AnsweredReportRecently(snapshot, now, cooldown))
            {
                confirmed = true;
            }
            else
            {
                _pending = NewRequest();
                _pendingRejected = snapshot;
                plan = StartIfIdleLocked();
            }
        }

        if (confirmed)
        {
            Log.ReportWithinCooldown(_engine.Logger, DisplayName, snapshot!.Version, now - snapshot.FetchedAt, cooldown);
            return;
        }

        Launch(plan);
    }

    /// <inheritdoc />
    public Task<T> InvalidateAsync(T rejectedValue, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<T>? request = null;
        AttemptPlan? plan = null;
        var cooldown = _engine.Options.InvalidationCooldown;
        var now = _engine.Time.GetUtcNow();
        CacheSnapshot<T>? confirmed = null;
        lock (_gate)
        {
            var snapshot = _current;
            if (snapshot is not null && !EqualityComparer<T>.Default.Equals(snapshot.Value, rejectedValue))
            {
                return Task.FromResult(snapshot.Value); // The cache has already moved on.
            }

            if (_state == EntryState.Stopped)
            {
                return Task.FromException<T>(Unavailable($"Cache '{DisplayName}' has stopped."));
            }

            if (AnsweredReportRecently(snapshot, now, cooldown))
            {
                confirmed = snapshot;
            }
            else if (_state == EntryState.Running)
            {
                request = _inflight ??= NewRequest();
                NoteReportDuringAttemptLocked(snapshot);
            }
            else
            {
                if (_pending is null)
                {
                    _pending = NewRequest();
                    _pendingRejected = snapshot;
                }

                request = _pending;
                plan = StartIfIdleLocked();
            }
        }

        if (confirmed is not null)
        {
            Log.ReportWithinCooldown(_engine.Logger, DisplayName, confirmed.Version, now - confirmed.FetchedAt, cooldown);
            return Task.FromResult(confirmed.Value);
        }

        Launch(plan);
        return request!.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Asks for a refresh (a coordinator's forwarded request); false when one is already pending or running.</summary>
    public bool RequestRefresh()
    {
        AttemptPlan? plan;
        lock (_gate)
        {
            if (_state is EntryState.Stopped or EntryState.Running || _pending is not null)
            {
                return false;
            }

            _pending = NewRequest();
            plan = StartIfIdleLocked();
        }

        Launch(plan);
        return true;
    }

    /// <summary>
    /// Starts the entry: a value already published (a coordinator's shared value) is refreshed on its schedule; otherwise the
    /// first fetch starts now. Idempotent.
    /// </summary>
    public void Start(DateTimeOffset now)
    {
        AttemptPlan? plan = null;
        var idle = false;
        lock (_gate)
        {
            if (_state != EntryState.NotStarted)
            {
                return;
            }

            _startedAt = now;
            _state = EntryState.Idle;
            if (_current is { } adopted && _pending is null)
            {
                _due = now + RefreshPolicy.AfterSuccess(_engine.Options, adopted.ExpiresAt, now, _engine.SpreadRefreshes, _engine.Renewal);
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
        lock (_gate)
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
        lock (_gate)
        {
            if (_state == EntryState.Stopped)
            {
                return;
            }

            _state = EntryState.Stopped;
            _due = null;
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

    /// <summary>
    /// Publishes a value obtained from a shared store (not from the upstream) and reschedules after it; a version older than
    /// the one served is ignored unless <paramref name="force"/> (the store is the reference, e.g. its clock went back).
    /// </summary>
    public void PublishShared(T value, DateTimeOffset? expiresAt, long version, bool force)
    {
        var now = _engine.Time.GetUtcNow();
        if (expiresAt is { } e && e <= now)
        {
            return; // Never adopt an expired value.
        }

        var options = _engine.Options;
        CacheSnapshot<T>? published;
        var idle = false;
        lock (_gate)
        {
            if (_state == EntryState.Stopped || (!force && _current is { } served && served.Version >= version))
            {
                return;
            }

            published = PublishLocked(value, expiresAt, version, now, options, exact: true);
            if (_state == EntryState.Idle)
            {
                // Another instance refreshed: the next check follows the new value's schedule, after the leader's.
                _due = now + RefreshPolicy.AfterShared(options, expiresAt, now, _engine.Renewal);
                ArmLocked();
                idle = true;
            }
        }

        NotifyPublished(published);
        if (idle)
        {
            _engine.NotifyIdle(this);
        }
    }

    /// <summary>Waits until the entry holds a value, fails for good, or stops; false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitForFirstLoadAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _engine.Time.GetUtcNow() + timeout;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_current is not null || _version > 0 || _state == EntryState.Stopped || RefreshPolicy.IsPermanent(_lastError))
                {
                    return true;
                }

                changed = (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            var remaining = deadline - _engine.Time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await changed.WaitAsync(remaining, _engine.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <inheritdoc />
    void ISchedulable.OnDue(DateTimeOffset now, long dueTicks)
    {
        AttemptPlan? plan = null;
        CacheSnapshot<T>? retired = null;
        DateTimeOffset retiredAt = default;
        lock (_gate)
        {
            if (dueTicks != _wakeTicks || _state == EntryState.Stopped)
            {
                return; // Superseded by a later schedule.
            }

            _wakeTicks = NoWake;
            if (_current is { } current && _retireAt is { } retireAt && retireAt <= now)
            {
                retired = current;
                retiredAt = retireAt;
                _current = null;
                _retireAt = null;
                SignalChangedLocked();
            }

            if (_state == EntryState.Idle && _due is { } due && due <= now)
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

    /// <summary>Runs one attempt: waits out an abandoned fetch, takes a fetch slot, asks to be admitted, fetches, records.</summary>
    internal async Task RunAttemptAsync(AttemptPlan plan)
    {
        var engine = _engine;
        // Not linked to the engine's stop token (a registration per attempt would stay in that token's free list for good,
        // issue #21): stopping the engine stops every entry, and Stop cancels the attempt's source.
        var cts = new CancellationTokenSource();
        Task? prior;
        lock (_gate)
        {
            _attemptCts = cts;
            if (_state == EntryState.Stopped || engine.IsStopped)
            {
                cts.Cancel();
            }

            prior = _abandoned;
        }

        var options = engine.Options;
        IDisposable? slot = null;
        var started = 0L;
        Activity? activity = null;
        try
        {
            if (prior is { IsCompleted: false })
            {
                // At most one fetch per value is ever in flight: a fetch that outlived FetchTimeout is waited out.
                await prior.WaitAsync(cts.Token).ConfigureAwait(false);
            }

            slot = await engine.AcquireFetchSlotAsync(cts.Token).ConfigureAwait(false);
            if (!engine.TryAdmit(this))
            {
                slot?.Dispose();
                slot = null;
                Park(plan);
                return;
            }

            activity = BackgroundCacheDiagnostics.ActivitySource.StartActivity("BackgroundCache.Refresh", ActivityKind.Internal);
            activity?.SetTag(BackgroundCacheDiagnostics.CacheNameTag, engine.Name);
            started = engine.Time.GetTimestamp();
            var (value, version, fromUpstream) = await FetchOnceAsync(plan, options, cts.Token, ref slot).ConfigureAwait(false);
            var duration = engine.Time.GetElapsedTime(started);
            OnSucceeded(plan, options, value, version, fromUpstream, duration, activity);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Stopped or removed: nothing to record.
            lock (_gate)
            {
                if (_state == EntryState.Running)
                {
                    _state = EntryState.Stopped;
                }
            }

            plan.Request?.TrySetCanceled();
            CompleteInflight(static r => r.TrySetCanceled());
            engine.OnAttemptEnded(this, AttemptOutcome.Cancelled, null, engine.Time.GetUtcNow());
        }
        catch (Exception ex)
        {
            var duration = started == 0 ? TimeSpan.Zero : engine.Time.GetElapsedTime(started);
            OnFailed(plan, options, ex, duration, activity);
        }
        finally
        {
            slot?.Dispose();
            activity?.Dispose();
            lock (_gate)
            {
                if (ReferenceEquals(_attemptCts, cts))
                {
                    _attemptCts = null;
                }
            }

            cts.Dispose();
            engine.AttemptFinished();
        }
    }

    private void OnSucceeded(AttemptPlan plan, RefreshingCacheOptions options, T value, long? version, bool fromUpstream, TimeSpan duration, Activity? activity)
    {
        var engine = _engine;
        var now = engine.Time.GetUtcNow();
        var expiresAt = engine.GetExpiresAt(value);
        if (expiresAt is { } e && e <= now)
        {
            throw new InvalidOperationException($"Cache '{DisplayName}' fetched a value that had already expired (at {e:O}).");
        }

        CacheSnapshot<T>? published;
        TaskCompletionSource<T>? inflight;
        AttemptPlan? again;
        int failuresBefore;
        long servedVersion;
        lock (_gate)
        {
            failuresBefore = _failures;

            // A shared version older than the one a notification delivered meanwhile is not published over it. A value
            // fetched for a report is marked: further reports against it wait out InvalidationCooldown.
            published = version is { } shared && _current is { } served && served.Version > shared
                ? ClearFailuresLocked()
                : PublishLocked(value, expiresAt, version, now, options, exact: version is not null, answersReport: plan.Rejected is not null && fromUpstream);
            servedVersion = _current?.Version ?? 0;
            inflight = _inflight;
            _inflight = null;
            if (_state == EntryState.Running)
            {
                _state = EntryState.Idle;
                _due = now + (fromUpstream
                    ? RefreshPolicy.AfterSuccess(options, expiresAt, now, engine.SpreadRefreshes && !plan.OnTime, engine.Renewal)
                    : RefreshPolicy.AfterShared(options, expiresAt, now, engine.Renewal));
                ArmLocked();
            }

            again = AnswerReportAfterAttemptLocked(now, options, ref inflight);
        }

        // "shared": a coordinated instance took the value another instance fetched (no upstream call).
        var outcome = fromUpstream ? "success" : "shared";
        engine.RecordAttempt(outcome, duration);
        activity?.SetTag(BackgroundCacheDiagnostics.OutcomeTag, outcome);
        if (engine.Logger.IsEnabled(LogLevel.Debug))
        {
            Log.RefreshSucceeded(engine.Logger, DisplayName, servedVersion, duration.TotalMilliseconds, expiresAt); // a set's name is formatted per key: only when logged
        }
        if (failuresBefore > 0)
        {
            Log.Recovered(engine.Logger, DisplayName, failuresBefore, servedVersion);
        }

        NotifyPublished(published);
        plan.Request?.TrySetResult(value);
        inflight?.TrySetResult(value);
        engine.OnAttemptEnded(this, AttemptOutcome.Success, null, now);
        if (again is not null)
        {
            Launch(again);
            return;
        }

        engine.NotifyIdle(this);
    }

    /// <summary>
    /// Notes a report of the value served that arrived during an attempt whose result may equal it: an attempt that began
    /// before the value was published (a shared value adopted meanwhile) or that answers another report. Joining it alone
    /// would answer the report with the very value reported.
    /// </summary>
    private void NoteReportDuringAttemptLocked(CacheSnapshot<T>? snapshot)
    {
        if (snapshot is not null && !ReferenceEquals(_runningRejected, snapshot))
        {
            _reportedDuringAttempt = snapshot;
        }
    }

    /// <summary>
    /// After a successful attempt: when a report noted during it names the value now served, one more attempt answers the
    /// report (rejecting that value), and the report's callers wait for it; within InvalidationCooldown of an upstream
    /// answer to a report, the value stands.
    /// </summary>
    private AttemptPlan? AnswerReportAfterAttemptLocked(DateTimeOffset now, RefreshingCacheOptions options, ref TaskCompletionSource<T>? inflight)
    {
        var reported = _reportedDuringAttempt;
        _reportedDuringAttempt = null;
        if (reported is null || _state != EntryState.Idle || _pending is not null || _current is not { } served
            || !EqualityComparer<T>.Default.Equals(served.Value, reported.Value)
            || AnsweredReportRecently(served, now, options.InvalidationCooldown))
        {
            return null;
        }

        _pending = inflight ?? NewRequest();
        _pendingRejected = served;
        inflight = null;
        return BeginAttemptLocked(now, onTime: false);
    }

    private void OnFailed(AttemptPlan plan, RefreshingCacheOptions options, Exception error, TimeSpan duration, Activity? activity)
    {
        var engine = _engine;
        var outcome = error is TimeoutException ? "timeout" : "failure";
        engine.RecordAttempt(outcome, duration);
        activity?.SetTag(BackgroundCacheDiagnostics.OutcomeTag, outcome);
        activity?.SetStatus(ActivityStatusCode.Error, error.GetType().Name);

        var now = engine.Time.GetUtcNow();
        TimeSpan delay;
        long servedVersion;
        int failures;
        TaskCompletionSource<T>? inflight;
        bool repeatedDependencyFailure;
        bool awaitingTicketAgain;
        lock (_gate)
        {
            failures = ++_failures;
            repeatedDependencyFailure = failures > 1 && RefreshPolicy.IsSameDependencyFailure(_lastError, error);
            awaitingTicketAgain = failures > 1 && RefreshPolicy.IsAwaitingPushedTicket(_lastError);
            _lastError = error;
            delay = RefreshPolicy.AfterFailure(options, error, failures);
            _blockedUntil = error is IRefreshRetryAdvice { RetryAfter: { } retryAfter } ? now + retryAfter : null;
            servedVersion = _current?.Version ?? 0;
            inflight = _inflight;
            _inflight = null;
            if (_state == EntryState.Running)
            {
                _state = EntryState.Idle;
                _due = now + delay;
                ArmLocked();
            }

            if (RefreshPolicy.IsPermanent(error))
            {
                SignalChangedLocked(); // readers waiting for a first value learn at once that retries will not help
            }
        }

        if (error is CacheKeyNotFoundException)
        {
            Log.KeyNotFound(engine.Logger, DisplayName, error.Message); // the set removes the key; the source says why
        }
        else if (RefreshPolicy.IsAwaitingPushedTicket(error))
        {
            // An expected state (no pushed ticket yet), not a fault: once at Information, without a stack trace.
            if (awaitingTicketAgain)
            {
                Log.StillAwaitingPushedTicket(engine.Logger, DisplayName, failures, delay);
            }
            else
            {
                Log.AwaitingPushedTicket(engine.Logger, DisplayName, RefreshPolicy.Describe(error), delay);
            }
        }
        else if (repeatedDependencyFailure)
        {
            // One Warning or Error per cause: the cache this one reads logs its own failures at each of its retries.
            Log.DependencyStillUnavailable(engine.Logger, error, DisplayName, failures, ((CacheValueUnavailableException)error).CacheName!, delay);
        }
        else if (servedVersion > 0)
        {
            Log.RefreshFailedServingStale(engine.Logger, error, DisplayName, failures, servedVersion, delay);
        }
        else
        {
            Log.RefreshFailedNoValue(engine.Logger, error, DisplayName, failures, delay);
        }

        Fail(plan.Request, error);
        Fail(inflight, error);
        engine.OnAttemptEnded(this, AttemptOutcome.Failure, error, now);
        engine.NotifyIdle(this);
    }

    private ValueTask<(T Value, long? Version, bool FromUpstream)> FetchOnceAsync(AttemptPlan plan, RefreshingCacheOptions options, CancellationToken cancellationToken, ref IDisposable? slot)
    {
        var engine = _engine;
        if (engine.Coordinator is { } coordinator)
        {
            // FetchTimeout bounds the upstream call only; the coordinator bounds its own waits in real time.
            return CoordinatedFetchAsync(coordinator, plan, options, cancellationToken);
        }

        return Timed<(T Value, long? Version, bool FromUpstream)>(plan.Rejected, static value => (value, null, true), options, ref slot, cancellationToken);
    }

    private async ValueTask<(T Value, long? Version, bool FromUpstream)> CoordinatedFetchAsync(ICacheCoordinator<T> coordinator, AttemptPlan plan, RefreshingCacheOptions options, CancellationToken cancellationToken)
    {
        var rejected = plan.Rejected;
        var result = await coordinator.RefreshAsync(
            Coordination,
            ct =>
            {
                // The budget slot stays with the attempt; an abandoned call is still waited out by the next attempt.
                IDisposable? none = null;
                return Timed(rejected, static value => value, options, ref none, ct);
            },
            plan.Requested,
            rejected is null ? default : rejected.Value,
            plan.DecidedOnVersion,
            cancellationToken).ConfigureAwait(false);
        return (result.Value, result.Version, result.FromUpstream);
    }

    /// <summary>
    /// Runs an upstream call bounded by FetchTimeout on the cache's clock; a call that outlives it is abandoned, not overlapped.
    /// The timeout is a due time in the engine's scheduler that cancels the attempt's own token source (a coordinator's
    /// token gets one linked source): no timer, and nothing registered on a long-lived token (issue #21).
    /// </summary>
    private ValueTask<TResult> Timed<TResult>(CacheSnapshot<T>? rejected, Func<T, TResult> map, RefreshingCacheOptions options, ref IDisposable? slot, CancellationToken cancellationToken)
    {
        var engine = _engine;
        var attempt = Volatile.Read(ref _attemptCts);
        var linked = attempt is not null && attempt.Token == cancellationToken ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked?.Token ?? cancellationToken;

        // The deadline is scheduled before the fetch starts, so a test clock can end a hanging fetch.
        var deadline = FetchDeadline.Start(engine.Scheduler, engine.Time, options.FetchTimeout, linked ?? attempt!);
        ValueTask<T> fetch;
        try
        {
            fetch = engine.FetchAsync(this, rejected, token);
        }
        catch
        {
            deadline.Disarm();
            linked?.Dispose();
            throw;
        }

        if (fetch.IsCompletedSuccessfully)
        {
            deadline.Disarm();
            linked?.Dispose();
            return new ValueTask<TResult>(map(fetch.Result));
        }

        // From here the slot belongs to the fetch: it is freed when the fetch really ends, even one abandoned after
        // FetchTimeout, so the fetch budget counts calls actually in flight.
        var owned = slot;
        slot = null;
        return AwaitTimedAsync(fetch.AsTask(), map, owned, deadline, linked, options, token);
    }

    private async ValueTask<TResult> AwaitTimedAsync<TResult>(
        Task<T> fetch,
        Func<T, TResult> map,
        IDisposable? slot,
        FetchDeadline deadline,
        CancellationTokenSource? linked,
        RefreshingCacheOptions options,
        CancellationToken token)
    {
        try
        {
            return map(await fetch.WaitAsync(token).ConfigureAwait(false));
        }
        catch (OperationCanceledException ex) when (deadline.HasFired && !IsStopping())
        {
            throw new TimeoutException($"The fetch for cache '{DisplayName}' did not complete within FetchTimeout ({options.FetchTimeout}).", ex);
        }
        finally
        {
            deadline.Disarm();
            if (fetch.IsCompleted)
            {
                slot?.Dispose();
            }
            else
            {
                Abandon(fetch, slot);
            }

            linked?.Dispose();
        }
    }

    /// <summary>Whether the entry or its engine stopped (a cancellation then is a stop, not a timeout).</summary>
    private bool IsStopping()
    {
        if (_engine.IsStopped)
        {
            return true;
        }

        lock (_gate)
        {
            return _state == EntryState.Stopped;
        }
    }

    private void Abandon(Task fetch, IDisposable? slot)
    {
        var logger = _engine.Logger;
        var name = DisplayName;
        var ended = fetch.ContinueWith(
            t =>
            {
                // Observed, so it never surfaces as an unobserved task exception; its late result is discarded.
                if (t.Exception is { } error)
                {
                    Log.AbandonedFetchFailed(logger, error.InnerException ?? error, name);
                }
                else
                {
                    Log.AbandonedFetchEnded(logger, name, t.IsCanceled ? "cancelled" : "completed; its result was discarded");
                }

                slot?.Dispose();
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        // The next attempt waits for this: the call has ended, its outcome is logged and its budget slot is free.
        lock (_gate)
        {
            _abandoned = ended;
        }
    }

    private void Park(AttemptPlan plan)
    {
        var now = _engine.Time.GetUtcNow();
        lock (_gate)
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
            _pendingRejected = plan.Rejected;
            ArmLocked();
        }

        _engine.Park(this, now);
    }

    private static void CopyOutcome(Task<T> from, TaskCompletionSource<T> to)
    {
        if (from.IsCanceled)
        {
            to.TrySetCanceled();
        }
        else if (from.Exception is { } error)
        {
            Fail(to, error.InnerException ?? error);
        }
        else
        {
            to.TrySetResult(from.Result);
        }
    }

    /// <summary>
    /// Whether <paramref name="snapshot"/> is the answer to a report (an invalidation) and was fetched less than
    /// <paramref name="cooldown"/> ago: a further report against it does not call the upstream, which has just confirmed the
    /// value (a WeChat stable token) or issued it moments ago. Reports alone never make a burst of fetches.
    /// </summary>
    private static bool AnsweredReportRecently(CacheSnapshot<T>? snapshot, DateTimeOffset now, TimeSpan cooldown) =>
        snapshot is { AnswersReport: true } && now - snapshot.FetchedAt < cooldown;

    private AttemptPlan? StartIfIdleLocked() =>
        _state == EntryState.Idle ? BeginAttemptLocked(_engine.Time.GetUtcNow(), onTime: false) : null;

    private AttemptPlan? BeginAttemptLocked(DateTimeOffset now, bool onTime)
    {
        var request = _pending;
        var requested = request is not null;
        if (requested && _blockedUntil is { } blockedUntil && now < blockedUntil && _lastError is { } blockingError)
        {
            // The upstream asked not to be called before blockedUntil (a quota): answer with its error, keep the schedule.
            _pending = null;
            _pendingRejected = null;
            Log.OnDemandRefreshBlocked(_engine.Logger, DisplayName, blockedUntil);
            Fail(request, blockingError);
            ArmLocked();
            return null;
        }

        var plan = new AttemptPlan(
            request,
            requested && ReferenceEquals(_pendingRejected, _current) ? _pendingRejected : null,
            _current?.Version ?? 0,
            requested,
            onTime && !requested);
        _pending = null;
        _pendingRejected = null;
        _runningRejected = plan.Rejected;
        _reportedDuringAttempt = null;
        _state = EntryState.Running;
        _lastAttemptAt = now;
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
        if (_state == EntryState.Idle && _due is { } due)
        {
            wake = due.UtcTicks;
        }

        if (_current is not null && _retireAt is { } retireAt && retireAt.UtcTicks < wake)
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

    private CacheSnapshot<T>? ClearFailuresLocked()
    {
        _failures = 0;
        _lastError = null;
        _blockedUntil = null;
        return null;
    }

    /// <summary>
    /// Publishes a value. A shared value keeps the store's version (<paramref name="exact"/>: the same on every instance);
    /// a local one gets the next version, unless it equals the value served (a WeChat stable token confirmed by its
    /// issuer): then the version stays and only the fetch time, expiry and schedule move.
    /// </summary>
    private CacheSnapshot<T>? PublishLocked(T value, DateTimeOffset? expiresAt, long? version, DateTimeOffset now, RefreshingCacheOptions options, bool exact = false, bool answersReport = false)
    {
        ClearFailuresLocked();
        if (version is { } same && _current is { } existing && existing.Version == same)
        {
            return null; // The same shared version again (a notification and a refresh both delivered it).
        }

        var unchanged = version is null && _current is { } served && EqualityComparer<T>.Default.Equals(served.Value, value);
        _version = unchanged ? _version : version is { } v && (exact || v > _version) ? v : _version + 1;
        var snapshot = new CacheSnapshot<T>(value, now, expiresAt, _version) { AnswersReportInit = answersReport };
        _current = snapshot;
        _retireAt = RefreshPolicy.RetireAt(options, expiresAt, now);
        ArmLocked();
        SignalChangedLocked();
        return snapshot;
    }

    private void NotifyPublished(CacheSnapshot<T>? snapshot)
    {
        if (snapshot is null)
        {
            return;
        }

        foreach (var observer in _engine.Observers)
        {
            try
            {
                observer.OnPublished(snapshot, RefreshPolicy.RetireAt(_engine.Options, snapshot.ExpiresAt, snapshot.FetchedAt));
            }
            catch (Exception ex)
            {
                Log.ObserverFailed(_engine.Logger, ex, DisplayName, snapshot.Version);
            }
        }
    }

    private void SignalChangedLocked()
    {
        _changed?.TrySetResult();
        _changed = null;
    }

    private void CompleteInflight(Action<TaskCompletionSource<T>> complete)
    {
        TaskCompletionSource<T>? inflight;
        lock (_gate)
        {
            inflight = _inflight;
            _inflight = null;
        }

        if (inflight is not null)
        {
            complete(inflight);
        }
    }

    private async ValueTask<T> GetSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var snapshot = _current;
            if (snapshot is not null)
            {
                return snapshot.Value;
            }

            Task changed;
            DateTimeOffset deadline;
            var options = _engine.Options;
            var now = _engine.Time.GetUtcNow();
            lock (_gate)
            {
                if (_current is { } loaded)
                {
                    return loaded.Value;
                }

                if (_lastError is CacheKeyNotFoundException gone)
                {
                    throw Unavailable(gone.Message); // the key left its set: say why, not merely that it stopped
                }

                if (_state == EntryState.Stopped)
                {
                    throw Unavailable($"Cache '{DisplayName}' has stopped and holds no value.");
                }

                if (_version > 0)
                {
                    throw Unavailable($"Cache '{DisplayName}' has no usable value: it expired while refreshes failed ({_failures} in a row).");
                }

                if (RefreshPolicy.IsPermanent(_lastError))
                {
                    throw Unavailable($"Cache '{DisplayName}' has no value, and its last fetch failed with an error that retries will not fix.");
                }

                deadline = (_startedAt ?? now) + options.InitialLoadTimeout;
                changed = (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            var remaining = deadline - now;
            if (remaining <= TimeSpan.Zero)
            {
                throw Unavailable($"Cache '{DisplayName}' did not load within InitialLoadTimeout ({options.InitialLoadTimeout}).");
            }

            try
            {
                await changed.WaitAsync(remaining, _engine.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw Unavailable($"Cache '{DisplayName}' did not load within InitialLoadTimeout ({options.InitialLoadTimeout}).");
            }
        }
    }

    private CacheValueUnavailableException Unavailable(string message) => new(DisplayName, message, Volatile.Read(ref _lastError) ?? _engine.SharedError);

    private static TaskCompletionSource<T> NewRequest() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Fail(TaskCompletionSource<T>? request, Exception error)
    {
        if (request is not null && request.TrySetException(error))
        {
            // Nobody may be waiting (an Invalidate); mark the exception observed so it is not reported as unobserved.
            _ = request.Task.Exception;
        }
    }

    /// <summary>What an attempt was decided on: its callers, the rejected value, the version it saw, why it runs.</summary>
    internal sealed record AttemptPlan(
        TaskCompletionSource<T>? Request,
        CacheSnapshot<T>? Rejected,
        long DecidedOnVersion,
        bool Requested,
        bool OnTime);
}
