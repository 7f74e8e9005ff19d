using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Internal.Engine;

/// <summary>Attempts: one run from fetch slot to outcome, and what success and failure do to the entry.</summary>
internal partial class CacheEntry<T>
{
    /// <summary>
    /// Runs one attempt: holds the fetch slot its launch took, asks to be admitted, fetches, records. The common path (a
    /// direct call, no abandoned fetch to wait out) runs without an <c>async</c> state machine: a fetch that completes at
    /// once is recorded here, and a pending one is awaited by the attempt's token source, which resumes the attempt in
    /// <see cref="ResumeAttempt"/> (issue #21: an async refresh allocated a state machine and a <c>WaitAsync</c> promise).
    /// The rest (an abandoned fetch to wait out, a slot still to acquire, a coordinator) runs in <see cref="RunAttemptAsync"/>.
    /// </summary>
    internal void RunAttempt(AttemptPlan plan)
    {
        var engine = _engine;
        // Not linked to the engine's stop token (a registration per attempt would stay in that token's free list for good,
        // issue #21): stopping the engine stops every entry, and Stop cancels the attempt's source.
        var cts = engine.RentAttemptSource();
        Task? prior;
        lock (Gate)
        {
            _attemptCts = cts;
            if (_state == EntryState.Stopped || engine.IsStopped)
            {
                cts.Cancel();
            }

            prior = Abandoned;
        }

        if (prior is { IsCompleted: false } || engine.Coordinator is not null)
        {
            _ = RunAttemptAsync(plan, cts, prior, acquiring: null);
            return;
        }

        if (plan.Slot is null)
        {
            var acquiring = engine.AcquireFetchSlotAsync(cts.Token); // an engine without a budget: null, at once
            if (!acquiring.IsCompletedSuccessfully)
            {
                _ = RunAttemptAsync(plan, cts, prior: null, acquiring.AsTask());
                return;
            }

            plan.Slot = acquiring.Result;
        }

        RunDirect(plan, cts);
    }

    /// <summary>
    /// The direct call, its slot held: admitted or parked, then fetched; a call that completes at once is recorded here, a
    /// pending one is awaited by <paramref name="cts"/>, which resumes the attempt in <see cref="ResumeAttempt"/>.
    /// </summary>
    private void RunDirect(AttemptPlan plan, AttemptSource cts)
    {
        var engine = _engine;
        var options = engine.Options;
        var started = 0L;
        Activity? activity = null;
        T value = default!;
        Exception? error = null;
        var parked = false;
        try
        {
            cts.Token.ThrowIfCancellationRequested(); // stopped before it started, or while it waited for its slot
            if (!engine.TryAdmit(this))
            {
                plan.TakeSlot()?.Dispose();
                Park(plan);
                parked = true;
            }
            else
            {
                Activity? parent = null;
                if (BackgroundCacheDiagnostics.ActivitySource.HasListeners()) // else no activity, and no async-local read
                {
                    parent = Activity.Current;
                    activity = BackgroundCacheDiagnostics.ActivitySource.StartActivity("BackgroundCache.Refresh", ActivityKind.Internal);
                    activity?.SetTag(BackgroundCacheDiagnostics.CacheNameTag, engine.Name);
                }

                started = engine.Time.GetTimestamp();
                var fetch = StartTimed(plan, options, started, cts.Token);
                if (fetch.Pending is not null)
                {
                    cts.AwaitFetch(plan, fetch.Pending, fetch.Deadline, fetch.Linked, fetch.Scope, options, started, activity, fetch.Token);
                    if (activity is not null)
                    {
                        // The fetch ran under the attempt's activity; this thread goes on without it (an async method
                        // restored it on its first await; this one is not async). The attempt ends it when it resumes.
                        Activity.Current = parent;
                    }

                    return;
                }

                value = fetch.Value;
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (parked && error is null)
        {
            EndAttempt(plan, cts, null);
            return;
        }

        Conclude(plan, cts, options, started, activity, error, value, version: null, fromUpstream: true);
    }

    /// <summary>
    /// Goes on with an attempt whose direct fetch was pending: the fetch ended, or the attempt's token was cancelled first
    /// (the deadline: a <see cref="TimeoutException"/>; a stop), and then the fetch is abandoned as the timed wait does.
    /// </summary>
    internal void ResumeAttempt(AttemptPlan plan, AttemptSource source, bool cancelled)
    {
        var fetch = new TimedFetch(default!, (Task<T>)source.Pending!, source.Deadline!, source.Linked, source.Scope, source.CallToken);
        var options = source.Options!;
        var started = source.Started;
        var activity = source.Activity;
        source.Clear();

        T value = default!;
        Exception? error = null;
        if (cancelled)
        {
            error = new OperationCanceledException(fetch.Token);
        }
        else
        {
            try
            {
                value = fetch.Pending!.GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        }

        if (error is OperationCanceledException cancellation && fetch.Deadline.HasFired && !IsStopping())
        {
            error = TimedOut(cancellation, options);
        }

        ValueTask disposing = default;
        try
        {
            disposing = EndTimed(fetch, plan, abandonTakesSlot: true);
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (!disposing.IsCompletedSuccessfully)
        {
            _ = ConcludeAfterAsync(disposing, plan, source, options, started, activity, error, value); // a scope that disposes slowly
            return;
        }

        Conclude(plan, source, options, started, activity, error, value, version: null, fromUpstream: true);
    }

    private async Task ConcludeAfterAsync(ValueTask disposing, AttemptPlan plan, AttemptSource source, RefreshingCacheOptions options, long started, Activity? activity, Exception? error, T value)
    {
        try
        {
            await disposing.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            error = ex; // as an exception from a finally block replaces the one it ran for
        }

        Conclude(plan, source, options, started, activity, error, value, version: null, fromUpstream: true);
    }

    /// <summary>
    /// The attempt's other paths, <c>async</c>: waits out an abandoned fetch (then takes a slot again) or a slot still being
    /// acquired, then goes on as <see cref="RunDirect"/>; or calls the coordinator.
    /// </summary>
    private async Task RunAttemptAsync(AttemptPlan plan, AttemptSource cts, Task? prior, Task<IDisposable?>? acquiring)
    {
        var engine = _engine;
        try
        {
            if (prior is { IsCompleted: false })
            {
                // At most one fetch per value is ever in flight: a fetch that outlived FetchTimeout is waited out, with
                // the slot given back meanwhile (the abandoned fetch still holds its own).
                plan.TakeSlot()?.Dispose();
                await prior.WaitAsync(cts.Token).ConfigureAwait(false);
                plan.Slot = await engine.AcquireFetchSlotAsync(cts.Token).ConfigureAwait(false);
            }
            else if (acquiring is not null)
            {
                plan.Slot = await acquiring.ConfigureAwait(false);
            }
            else if (plan.Slot is null)
            {
                plan.Slot = await engine.AcquireFetchSlotAsync(cts.Token).ConfigureAwait(false); // an engine without a budget: null
            }
        }
        catch (Exception ex)
        {
            Conclude(plan, cts, engine.Options, 0, null, ex, default!, null, fromUpstream: true);
            return;
        }

        if (engine.Coordinator is not { } coordinator)
        {
            RunDirect(plan, cts);
            return;
        }

        var options = engine.Options;
        var started = 0L;
        Activity? activity = null;
        T value = default!;
        long? version = null;
        var fromUpstream = true;
        Exception? error = null;
        var parked = false;
        try
        {
            cts.Token.ThrowIfCancellationRequested(); // stopped while it waited for its slot
            if (!engine.TryAdmit(this))
            {
                plan.TakeSlot()?.Dispose();
                Park(plan);
                parked = true;
            }
            else
            {
                activity = BackgroundCacheDiagnostics.ActivitySource.StartActivity("BackgroundCache.Refresh", ActivityKind.Internal);
                activity?.SetTag(BackgroundCacheDiagnostics.CacheNameTag, engine.Name);
                started = engine.Time.GetTimestamp();
                (value, version, fromUpstream) = await CoordinatedFetchAsync(coordinator, plan, options, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (parked && error is null)
        {
            EndAttempt(plan, cts, null);
            return;
        }

        Conclude(plan, cts, options, started, activity, error, value, version, fromUpstream);
    }

    /// <summary>
    /// Records an attempt's outcome: a value is published (and an error while publishing it fails the attempt), a
    /// cancellation of the attempt's own source is a stop or a removal (nothing to record), any other error is a failure.
    /// Then the attempt ends. Nothing escapes: an attempt runs on the thread pool or on the thread of the fetch that ended.
    /// </summary>
    private void Conclude(AttemptPlan plan, AttemptSource cts, RefreshingCacheOptions options, long started, Activity? activity, Exception? error, T value, long? version, bool fromUpstream)
    {
        var engine = _engine;
        try
        {
            if (error is null)
            {
                try
                {
                    OnSucceeded(plan, cts, options, value, version, fromUpstream, started, activity);
                    return;
                }
                catch (Exception ex)
                {
                    error = ex;
                }
            }

            if (error is OperationCanceledException && cts.IsCancellationRequested)
            {
                OnCancelled(plan);
            }
            else
            {
                OnFailed(plan, options, error, started == 0 ? TimeSpan.Zero : engine.Time.GetElapsedTime(started), activity);
            }
        }
        catch (Exception ex)
        {
            // Past the attempt's own recording (a logger that throws): an async attempt left it as an unobserved task
            // exception; the attempt still ends below.
            Debug.Fail("Recording an attempt's outcome threw.", ex.ToString());
        }
        finally
        {
            EndAttempt(plan, cts, activity);
        }
    }

    /// <summary>Stopped or removed: nothing to record.</summary>
    private void OnCancelled(AttemptPlan plan)
    {
        lock (Gate)
        {
            if (_state == EntryState.Running)
            {
                _state = EntryState.Stopped;
            }
        }

        plan.Request?.TrySetCanceled();
        CompleteInflight(static r => r.TrySetCanceled());
        _engine.OnAttemptEnded(this, AttemptOutcome.Cancelled, null, _engine.Time.GetUtcNow());
    }

    /// <summary>Ends an attempt, whatever its outcome: its token source kept or disposed, its slot freed, its count dropped.</summary>
    private void EndAttempt(AttemptPlan plan, AttemptSource cts, Activity? activity)
    {
        var engine = _engine;
        activity?.Dispose();
        if (plan.SourceReusable is not { } reusable)
        {
            lock (Gate)
            {
                reusable = LetGoOfSourceLocked(plan, cts);
            }
        }

        engine.ReturnAttemptSource(cts, reusable);
        if (plan.TakeSlot() is { } slot)
        {
            engine.ReleaseSlot(slot); // last: the attempt it is handed to may run here, and reuse the token source
        }

        engine.AttemptFinished();
    }

    /// <summary>
    /// The entry lets go of the attempt's token source, and says whether it may be reused: from here Stop cannot reach it;
    /// a deadline that fired, or a coordinator that holds its token, still might cancel it later, and then it is not.
    /// </summary>
    private bool LetGoOfSourceLocked(AttemptPlan plan, AttemptSource cts)
    {
        if (ReferenceEquals(_attemptCts, cts))
        {
            _attemptCts = null;
        }

        return _state != EntryState.Stopped && !plan.HasFired && _engine.Coordinator is null && !cts.IsCancellationRequested;
    }

    private void OnSucceeded(AttemptPlan plan, AttemptSource cts, RefreshingCacheOptions options, T value, long? version, bool fromUpstream, long started, Activity? activity)
    {
        var engine = _engine;
        var logsSuccess = engine.Logger.IsEnabled(LogLevel.Debug);
        var duration = engine.Metrics.RecordsAttempts || logsSuccess ? engine.Time.GetElapsedTime(started) : default; // a clock read only when recorded
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
        long refreshedAfterStale = 0;
        lock (Gate)
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
                DueTime = now + (fromUpstream
                    ? RefreshPolicy.AfterSuccess(options, expiresAt, now, engine.SpreadRefreshes && !plan.OnTime, engine.Renewal)
                    : RefreshPolicy.AfterShared(options, expiresAt, now, engine.Renewal));
                ArmLocked();
            }

            plan.SourceReusable = LetGoOfSourceLocked(plan, cts); // here, so the attempt's end takes no lock
            again = AnswerReportAfterAttemptLocked(now, options, ref inflight) ?? AnswerRefreshAfterAttemptLocked(now, ref inflight, out refreshedAfterStale);
        }

        // "shared": a coordinated instance took the value another instance fetched (no upstream call).
        var outcome = fromUpstream ? "success" : "shared";
        if (engine.Metrics.RecordsAttempts)
        {
            engine.RecordAttempt(outcome, duration);
        }

        activity?.SetTag(BackgroundCacheDiagnostics.OutcomeTag, outcome);
        if (logsSuccess)
        {
            Log.RefreshSucceeded(engine.Logger, DisplayName, servedVersion, duration.TotalMilliseconds, expiresAt); // a set's name is formatted per key: only when logged
        }
        if (failuresBefore > 0)
        {
            Log.Recovered(engine.Logger, DisplayName, failuresBefore, servedVersion);
        }

        if (refreshedAfterStale != 0)
        {
            Log.RefreshAfterStaleAttempt(engine.Logger, DisplayName, refreshedAfterStale);
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
        lock (Gate)
        {
            failures = ++_failures;
            repeatedDependencyFailure = failures > 1 && RefreshPolicy.IsSameDependencyFailure(_lastError, error);
            awaitingTicketAgain = failures > 1 && RefreshPolicy.IsAwaitingPushedTicket(_lastError);
            _lastError = error;
            delay = RefreshPolicy.AfterFailure(options, error, failures);
            BlockedUntilTime = error is IRefreshRetryAdvice { RetryAfter: { } retryAfter } ? now + retryAfter : null;
            servedVersion = _current?.Version ?? 0;
            inflight = _inflight;
            _inflight = null;
            if (_state == EntryState.Running)
            {
                _state = EntryState.Idle;
                DueTime = now + delay;
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
    /// What an attempt was decided on: its callers, the rejected value, the version it saw, why it runs. It is also the
    /// attempt's thread-pool work item and its first <see cref="FetchDeadline"/>: one object per refresh where there were
    /// three (issue #21).
    /// </summary>
    internal sealed class AttemptPlan(
        CacheEntry<T> entry,
        TaskCompletionSource<T>? request,
        CacheSnapshot<T>? rejected,
        long decidedOnVersion,
        bool requested,
        bool onTime) : FetchDeadline, IFetchSlotWaiter, IPendingAttempt
#if NET
        , IThreadPoolWorkItem
#endif
    {
        /// <summary>Gets the entry the attempt runs for.</summary>
        public CacheEntry<T> Entry { get; } = entry;

        /// <summary>Gets the caller waiting for this attempt's value (a forced refresh or a report), if any.</summary>
        public TaskCompletionSource<T>? Request { get; } = request;

        /// <summary>Gets the value a report rejected, if the attempt answers one.</summary>
        public CacheSnapshot<T>? Rejected { get; } = rejected;

        /// <summary>Gets the version the entry served when the attempt was decided.</summary>
        public long DecidedOnVersion { get; } = decidedOnVersion;

        /// <summary>Gets a value indicating whether a caller asked for the attempt.</summary>
        public bool Requested { get; } = requested;

        /// <summary>Gets a value indicating whether the attempt is the scheduled refresh, run at its due time.</summary>
        public bool OnTime { get; } = onTime;

        [ThreadStatic]
        private static bool t_draining;

        [ThreadStatic]
        private static AttemptPlan? t_next;

        /// <summary>
        /// Gets or sets the fetch slot the attempt holds (its budget's lease), or null: taken at launch or after waiting out
        /// an abandoned fetch, freed when the attempt ends, or taken by a fetch the attempt abandons (it frees it when it
        /// really ends). Only the attempt's own flow touches it, one step after the other.
        /// </summary>
        public IDisposable? Slot { get; set; }

        /// <summary>
        /// Gets or sets whether the attempt's token source may be reused, once the entry has let go of it: set by a
        /// success, which lets go under the lock it takes anyway, so the attempt's end takes none; null until then.
        /// </summary>
        public bool? SourceReusable { get; set; }

        /// <summary>Takes the slot out of the plan: the caller now frees it.</summary>
        public IDisposable? TakeSlot()
        {
            var slot = Slot;
            Slot = null;
            return slot;
        }

        /// <summary>Runs the attempt (the thread pool calls this).</summary>
        public void Execute() => Entry.RunAttempt(this);

        /// <inheritdoc />
        void IPendingAttempt.Resume(AttemptSource source, bool cancelled) => Entry.ResumeAttempt(this, source, cancelled);

        /// <summary>Queues the attempt to the thread pool; the plan is its own work item, so this allocates nothing.</summary>
        public void RunOnPool(bool preferLocal)
        {
#if NET
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal);
#else
            ThreadPool.UnsafeQueueUserWorkItem(static p => p.Execute(), this, preferLocal);
#endif
        }

        /// <summary>
        /// The budget handed the plan a slot (<see cref="Slot"/> was set when it queued). When an attempt that just ended
        /// hands it over (<paramref name="runHere"/>), the plan runs on that thread at once, and so does any plan granted
        /// while it runs synchronously (a loop, not a recursion): a set at its cap then runs like cap-many workers draining
        /// a queue, with no thread-pool hop per queued attempt. Otherwise it is queued to the pool.
        /// </summary>
        bool IFetchSlotWaiter.TryGrant(bool runHere)
        {
            if (!runHere)
            {
                RunOnPool(preferLocal: false);
                return true;
            }

            if (t_draining)
            {
                if (t_next is null)
                {
                    t_next = this;
                }
                else
                {
                    RunOnPool(preferLocal: true);
                }

                return true;
            }

            t_draining = true;
            try
            {
                for (AttemptPlan? plan = this; plan is not null; plan = t_next, t_next = null)
                {
                    plan.Execute();
                }
            }
            finally
            {
                t_draining = false;
            }

            return true;
        }
    }
}
