namespace BackgroundCache.Internal.Engine;

/// <summary>The entry's state as others see it: health, status and test hooks; each reads under the gate.</summary>
internal partial class CacheEntry<T>
{
    /// <summary>Gets a value indicating whether the entry waits for its next due time (test and benchmark hook).</summary>
    public bool IsWaiting
    {
        get
        {
            lock (Gate)
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
            lock (Gate)
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
            lock (Gate)
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
            lock (Gate)
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
            lock (Gate)
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
                        EntryState.Idle or EntryState.Running => DueTime, // while running: the due time that started it
                        EntryState.Parked => _engine.ParkedUntil,
                        _ => null,
                    },
                    LastAttemptAt = LastAttemptTime,
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
}
