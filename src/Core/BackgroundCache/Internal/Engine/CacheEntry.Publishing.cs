namespace BackgroundCache.Internal.Engine;

/// <summary>Publishing: a value from the upstream or a shared store becomes the snapshot readers see, and waiters are told.</summary>
internal partial class CacheEntry<T>
{
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
        lock (Gate)
        {
            if (_state == EntryState.Stopped || (!force && _current is { } served && served.Version >= version))
            {
                return;
            }

            published = PublishLocked(value, expiresAt, version, now, options, exact: true);
            if (_state == EntryState.Idle)
            {
                // Another instance refreshed: the next check follows the new value's schedule, after the leader's.
                DueTime = now + RefreshPolicy.AfterShared(options, expiresAt, now, _engine.Renewal);
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

    private CacheSnapshot<T>? ClearFailuresLocked()
    {
        _failures = 0;
        _lastError = null;
        BlockedUntilTime = null;
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
            // The same shared version again (a notification and a refresh both delivered it). A value this instance fetched
            // for a report is still marked as its answer when the notification of its own write published it first (the
            // leader's store notifies the leader too): else a further report would call the upstream within the cooldown.
            if (answersReport && !existing.AnswersReport)
            {
                SetCurrentLocked(new CacheSnapshot<T>(existing.Value, existing.FetchedAt, existing.ExpiresAt, same) { AnswersReportInit = true });
            }

            return null;
        }

        var unchanged = version is null && _current is { } served && EqualityComparer<T>.Default.Equals(served.Value, value);
        _version = unchanged ? _version : version is { } v && (exact || v > _version) ? v : _version + 1;
        var snapshot = new CacheSnapshot<T>(value, now, expiresAt, _version) { AnswersReportInit = answersReport };
        SetCurrentLocked(snapshot);
        RetireTime = RefreshPolicy.RetireAt(options, expiresAt, now);
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
        Changed?.TrySetResult();
        Changed = null;
    }

    private void CompleteInflight(Action<TaskCompletionSource<T>> complete)
    {
        TaskCompletionSource<T>? inflight;
        lock (Gate)
        {
            inflight = _inflight;
            _inflight = null;
        }

        if (inflight is not null)
        {
            complete(inflight);
        }
    }
}
