using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Internal.Engine;

/// <summary>Attempts: one run from fetch slot to outcome, and what success and failure do to the entry.</summary>
internal partial class CacheEntry<T>
{
    /// <summary>
    /// Runs one attempt: holds the fetch slot its launch took (or waits out an abandoned fetch, then takes one), asks to be
    /// admitted, fetches, records.
    /// </summary>
    internal async Task RunAttemptAsync(AttemptPlan plan)
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

        var options = engine.Options;
        var started = 0L;
        Activity? activity = null;
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
            else if (plan.Slot is null)
            {
                plan.Slot = await engine.AcquireFetchSlotAsync(cts.Token).ConfigureAwait(false); // an engine without a budget: null
            }

            cts.Token.ThrowIfCancellationRequested(); // stopped while it waited for its slot
            if (!engine.TryAdmit(this))
            {
                plan.TakeSlot()?.Dispose();
                Park(plan);
                return;
            }

            activity = BackgroundCacheDiagnostics.ActivitySource.StartActivity("BackgroundCache.Refresh", ActivityKind.Internal);
            activity?.SetTag(BackgroundCacheDiagnostics.CacheNameTag, engine.Name);
            started = engine.Time.GetTimestamp();
            T value;
            long? version = null;
            var fromUpstream = true;
            if (engine.Coordinator is { } coordinator)
            {
                (value, version, fromUpstream) = await CoordinatedFetchAsync(coordinator, plan, options, cts.Token).ConfigureAwait(false);
            }
            else
            {
                // The direct call's timed wait, inline: one state machine per attempt, not two (issue #21).
                var fetch = StartTimed(plan, options, cts.Token);
                if (fetch.Pending is null)
                {
                    value = fetch.Value;
                }
                else
                {
                    try
                    {
                        value = await fetch.Pending.WaitAsync(fetch.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException ex) when (fetch.Deadline.HasFired && !IsStopping())
                    {
                        throw TimedOut(ex, options);
                    }
                    finally
                    {
                        var disposing = EndTimed(fetch, plan, abandonTakesSlot: true);
                        if (!disposing.IsCompletedSuccessfully)
                        {
                            await disposing.ConfigureAwait(false);
                        }
                    }
                }
            }

            var duration = engine.Time.GetElapsedTime(started);
            OnSucceeded(plan, options, value, version, fromUpstream, duration, activity);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            // Stopped or removed: nothing to record.
            lock (Gate)
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
            activity?.Dispose();
            bool reusable;
            lock (Gate)
            {
                if (ReferenceEquals(_attemptCts, cts))
                {
                    _attemptCts = null;
                }

                // From here Stop cannot reach the source; a deadline that fired, or a coordinator that holds its token,
                // still might cancel it later: then it is not reused.
                reusable = _state != EntryState.Stopped && !plan.HasFired && engine.Coordinator is null && !cts.IsCancellationRequested;
            }

            engine.ReturnAttemptSource(cts, reusable);
            if (plan.TakeSlot() is { } slot)
            {
                engine.ReleaseSlot(slot); // last: the attempt it is handed to may run here, and reuse the token source
            }

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
        bool onTime) : FetchDeadline, IFetchSlotWaiter
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

        /// <summary>Takes the slot out of the plan: the caller now frees it.</summary>
        public IDisposable? TakeSlot()
        {
            var slot = Slot;
            Slot = null;
            return slot;
        }

        /// <summary>Runs the attempt (the thread pool calls this).</summary>
        public void Execute() => _ = Entry.RunAttemptAsync(this);

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
