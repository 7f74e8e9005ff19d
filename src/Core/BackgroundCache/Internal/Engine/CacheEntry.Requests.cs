namespace BackgroundCache.Internal.Engine;

/// <summary>
/// Requests from callers and coordinators: forced refreshes and reports of a rejected value, and how a report that
/// arrives during an attempt is answered after it.
/// </summary>
internal partial class CacheEntry<T>
{
    /// <inheritdoc />
    public Task<T> RefreshAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<T> request;
        AttemptPlan? plan = null;
        lock (Gate)
        {
            if (_state == EntryState.Stopped)
            {
                return Task.FromException<T>(Unavailable($"Cache '{DisplayName}' has stopped."));
            }

            if (_state == EntryState.Running)
            {
                request = _inflight ??= NewRequest();
                NoteRefreshDuringAttemptLocked();
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
        lock (Gate)
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
                PendingRejected = snapshot;
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
        lock (Gate)
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
                    PendingRejected = snapshot;
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
        lock (Gate)
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
    /// Notes a report of the value served that arrived during an attempt whose result may equal it: an attempt that began
    /// before the value was published (a shared value adopted meanwhile) or that answers another report. Joining it alone
    /// would answer the report with the very value reported.
    /// </summary>
    private void NoteReportDuringAttemptLocked(CacheSnapshot<T>? snapshot)
    {
        if (snapshot is not null && !ReferenceEquals(RunningRejected, snapshot))
        {
            ReportedDuringAttempt = snapshot;
        }
    }

    /// <summary>
    /// Notes the version served when a forced refresh joined the attempt under way: the attempt answers it only with a newer
    /// one. With a coordinator the attempt may have begun before the value served now (a shared value adopted meanwhile)
    /// and end by taking that very value from the store; one more attempt then answers the refresh.
    /// </summary>
    private void NoteRefreshDuringAttemptLocked()
    {
        if (_current is { } served && served.Version > RefreshedDuringAttempt)
        {
            RefreshedDuringAttempt = served.Version;
        }
    }

    /// <summary>
    /// After a successful attempt: when a forced refresh joined it and the attempt ended with no newer version than the one
    /// served when the refresh was asked, one more attempt runs, and the refresh's callers wait for it.
    /// </summary>
    private AttemptPlan? AnswerRefreshAfterAttemptLocked(DateTimeOffset now, ref TaskCompletionSource<T>? inflight, out long askedAt)
    {
        askedAt = RefreshedDuringAttempt;
        RefreshedDuringAttempt = 0;
        if (askedAt == 0 || inflight is null || _state != EntryState.Idle || _pending is not null || (_current?.Version ?? 0) > askedAt)
        {
            askedAt = 0;
            return null;
        }

        _pending = inflight;
        inflight = null;
        return BeginAttemptLocked(now, onTime: false);
    }

    /// <summary>
    /// After a successful attempt: when a report noted during it names the value now served, one more attempt answers the
    /// report (rejecting that value), and the report's callers wait for it; within InvalidationCooldown of an upstream
    /// answer to a report, the value stands.
    /// </summary>
    private AttemptPlan? AnswerReportAfterAttemptLocked(DateTimeOffset now, RefreshingCacheOptions options, ref TaskCompletionSource<T>? inflight)
    {
        var reported = ReportedDuringAttempt;
        ReportedDuringAttempt = null;
        if (reported is null || _state != EntryState.Idle || _pending is not null || _current is not { } served
            || !EqualityComparer<T>.Default.Equals(served.Value, reported.Value)
            || AnsweredReportRecently(served, now, options.InvalidationCooldown))
        {
            return null;
        }

        _pending = inflight ?? NewRequest();
        PendingRejected = served;
        inflight = null;
        return BeginAttemptLocked(now, onTime: false);
    }

    /// <summary>
    /// Whether <paramref name="snapshot"/> is the answer to a report (an invalidation) and was fetched less than
    /// <paramref name="cooldown"/> ago: a further report against it does not call the upstream, which has just confirmed the
    /// value (a WeChat stable token) or issued it moments ago. Reports alone never make a burst of fetches.
    /// </summary>
    private static bool AnsweredReportRecently(CacheSnapshot<T>? snapshot, DateTimeOffset now, TimeSpan cooldown) =>
        snapshot is { AnswersReport: true } && now - snapshot.FetchedAt < cooldown;
}
