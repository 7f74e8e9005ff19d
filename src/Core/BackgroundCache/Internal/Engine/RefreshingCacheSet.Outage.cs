using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// The fetch budget and the outage policy: which entry may fetch, how a streak of failing keys parks the set, and the
/// probe that resumes it.
/// </summary>
internal sealed partial class RefreshingCacheSet<TKey, T>
    where TKey : notnull
{
    public override ValueTask<T> FetchAsync(CacheEntry<T> entry, CacheSnapshot<T>? rejected, CancellationToken cancellationToken, out IServiceScope? scope)
    {
        // The scope goes to the attempt, which disposes it when the call has ended: no wrapper task per fetch; and it is
        // created only if the fetch asks it for a service (issue #21).
        var lazy = new LazyServiceScope(_scopes);
        scope = lazy;
        try
        {
            return _fetch(lazy, ((KeyedEntry)entry).Key, cancellationToken);
        }
        catch (Exception ex)
        {
            return new ValueTask<T>(Task.FromException<T>(ex)); // failed like an async fetch: the scope is disposed after it
        }
    }

    public override async ValueTask<IDisposable?> AcquireFetchSlotAsync(CancellationToken cancellationToken)
    {
        var budget = _budget ?? throw new InvalidOperationException($"Cache set '{Name}' has not started.");
        return await budget.AcquireAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override void ReleaseSlot(IDisposable slot)
    {
        if (_budget is { } budget && ReferenceEquals(slot, budget.Lease))
        {
            budget.Release(runHere: true);
        }
        else
        {
            slot.Dispose();
        }
    }

    /// <inheritdoc />
    protected override bool TakeSlotOrQueue(CacheEntry<T>.AttemptPlan plan)
    {
        if (_budget is not { } budget)
        {
            return true; // not started: the attempt asks for its slot, and learns why it cannot have one
        }

        plan.Slot = budget.Lease;
        return budget.TakeOrQueue(plan);
    }

    public override bool TryAdmit(CacheEntry<T> entry)
    {
        if (!Volatile.Read(ref _outage))
        {
            return true; // the common case, no lock: an outage that begins now holds back the attempts after this one
        }

        lock (_outageGate)
        {
            if (!_outage || ReferenceEquals(entry, _probeEntry))
            {
                return true;
            }

            if (_probeArmed)
            {
                _probeArmed = false;
                _probeEntry = (KeyedEntry)entry;
                return true;
            }

            return false;
        }
    }

    public override void Park(CacheEntry<T> entry, DateTimeOffset now)
    {
        var keyed = (KeyedEntry)entry;
        lock (_outageGate)
        {
            if (_outage)
            {
                (keyed.HasPendingRequest ? _parkedRequested : _parked).Enqueue(keyed);
                return;
            }
        }

        entry.Resume(now); // the outage ended meanwhile
    }

    /// <summary>
    /// Stops a key taken out of the table (removed, removed elsewhere, evicted): its fetch is cancelled, its waiters
    /// released, and it leaves the outage streak, so nothing of it stays reachable from the set.
    /// </summary>
    private void StopRemoved(KeyedEntry entry)
    {
        entry.Stop();
        DropFromStreak(entry);
    }

    /// <summary>A removed key leaves the outage streak: it no longer counts.</summary>
    private void DropFromStreak(KeyedEntry entry)
    {
        lock (_outageGate)
        {
            var index = Array.IndexOf(_streak, entry, 0, _streakKeys);
            if (index >= 0)
            {
                _streak[index] = _streak[--_streakKeys];
                _streak[_streakKeys] = null;
            }
        }
    }

    public override void OnAttemptEnded(CacheEntry<T> entry, AttemptOutcome outcome, Exception? error, DateTimeOffset now)
    {
        var keyed = (KeyedEntry)entry;
        if (error is CacheKeyNotFoundException)
        {
            // Not an upstream failure (no outage streak): the key leaves the set, on every instance when coordinated.
            _ = RemoveAsync(keyed.Key, CancellationToken.None).AsTask()
                .ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

            return;
        }

        if (outcome == AttemptOutcome.Success && Volatile.Read(ref _streakKeys) == 0 && !Volatile.Read(ref _outage))
        {
            return; // the common case, no lock: nothing to clear (a failure recorded meanwhile counts as after this success)
        }

        List<KeyedEntry>? release = null;
        var probes = 0;
        lock (_outageGate)
        {
            switch (outcome)
            {
                case AttemptOutcome.Success:
                    Array.Clear(_streak, 0, _streak.Length);
                    _streakKeys = 0;
                    if (_outage)
                    {
                        probes = _probes;
                        release = DrainParkedLocked();
                        _outage = false;
                        _outageError = null;
                        _probeEntry = null;
                        _probeArmed = false;
                        _probeAt = null;
                        _probe.Cancel();
                    }

                    break;

                case AttemptOutcome.Failure:
                    // The streak only needs to know OutageThreshold distinct keys: a small array here, not a field per key.
                    if (_streakKeys < _streak.Length && Array.IndexOf(_streak, keyed, 0, _streakKeys) < 0)
                    {
                        _streak[_streakKeys++] = keyed;
                    }

                    if (_outage)
                    {
                        if (ReferenceEquals(keyed, _probeEntry))
                        {
                            _probeEntry = null;
                            _probes++;
                            _outageError = error;
                            var delay = RefreshPolicy.AfterFailure(Options, error!, _probes + 1);
                            _probeAt = now + delay;
                            _probe.ScheduleAt(now + delay);
                            Log.SetOutageProbeFailed(Logger, Name, _probes, delay);
                        }
                    }
                    else if (_streakKeys >= OutageThreshold)
                    {
                        _outage = true;
                        _probes = 0;
                        _outageError = error;
                        var delay = RefreshPolicy.AfterFailure(Options, error!, 1);
                        _probeAt = now + delay;
                        _probe.ScheduleAt(now + delay);
                        Log.SetOutageStarted(Logger, error!, Name, _streakKeys, delay);
                    }

                    break;

                default:
                    if (ReferenceEquals(keyed, _probeEntry))
                    {
                        _probeEntry = null;
                        _probeArmed = true; // the probe was removed: the next key that comes due probes instead
                    }

                    break;
            }
        }

        if (release is not null)
        {
            Log.SetOutageEnded(Logger, Name, probes, release.Count);
            foreach (var parked in release)
            {
                parked.Resume(now);
            }
        }
    }

    private List<KeyedEntry> DrainParkedLocked()
    {
        var released = new List<KeyedEntry>(_parkedRequested.Count + _parked.Count);
        released.AddRange(_parkedRequested);
        released.AddRange(_parked);
        _parkedRequested.Clear();
        _parked.Clear();
        return released;
    }

    private void OnProbeDue(DateTimeOffset now)
    {
        KeyedEntry? pick = null;
        lock (_outageGate)
        {
            if (!_outage)
            {
                return;
            }

            while (_parkedRequested.TryDequeue(out var candidate) || _parked.TryDequeue(out candidate))
            {
                if (candidate.IsParked)
                {
                    pick = candidate;
                    break;
                }
            }

            if (pick is null)
            {
                _probeArmed = true; // nothing parked: the next key that comes due (or is added) probes
            }
            else
            {
                _probeEntry = pick;
            }
        }

        pick?.Resume(now);
    }
}
