using BackgroundCache.Coordination;

namespace BackgroundCache.Internal.Engine;

/// <summary>The fetch itself: direct or through the coordinator, bounded by the fetch timeout, and abandoned when it overruns.</summary>
internal partial class CacheEntry<T>
{
    private ValueTask<(T Value, long? Version, bool FromUpstream)> FetchOnceAsync(AttemptPlan plan, RefreshingCacheOptions options, CancellationToken cancellationToken)
    {
        var engine = _engine;
        if (engine.Coordinator is { } coordinator)
        {
            // FetchTimeout bounds the upstream call only; the coordinator bounds its own waits in real time.
            return CoordinatedFetchAsync(coordinator, plan, options, cancellationToken);
        }

        return Timed<(T Value, long? Version, bool FromUpstream)>(plan, static value => (value, null, true), options, abandonTakesSlot: true, cancellationToken);
    }

    private async ValueTask<(T Value, long? Version, bool FromUpstream)> CoordinatedFetchAsync(ICacheCoordinator<T> coordinator, AttemptPlan plan, RefreshingCacheOptions options, CancellationToken cancellationToken)
    {
        var rejected = plan.Rejected;
        var result = await coordinator.RefreshAsync(
            Coordination,
            ct =>
            {
                // The budget slot stays with the attempt; an abandoned call is still waited out by the next attempt.
                return Timed(plan, static value => value, options, abandonTakesSlot: false, ct);
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
    private ValueTask<TResult> Timed<TResult>(AttemptPlan plan, Func<T, TResult> map, RefreshingCacheOptions options, bool abandonTakesSlot, CancellationToken cancellationToken)
    {
        var engine = _engine;
        var attempt = Volatile.Read(ref _attemptCts);
        var linked = attempt is not null && attempt.Token == cancellationToken ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked?.Token ?? cancellationToken;

        // The deadline is scheduled before the fetch starts, so a test clock can end a hanging fetch.
        var deadline = FetchDeadline.Start(engine.Scheduler, engine.Time, options.FetchTimeout, linked ?? attempt!, reusable: plan);
        ValueTask<T> fetch;
        try
        {
            fetch = engine.FetchAsync(this, plan.Rejected, token);
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

        return AwaitTimedAsync(fetch.AsTask(), map, plan, abandonTakesSlot, deadline, linked, options, token);
    }

    private async ValueTask<TResult> AwaitTimedAsync<TResult>(
        Task<T> fetch,
        Func<T, TResult> map,
        AttemptPlan plan,
        bool abandonTakesSlot,
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
            if (!fetch.IsCompleted)
            {
                // The slot goes with an abandoned fetch: it is freed when the call really ends, so the fetch budget counts
                // calls actually in flight. A fetch that ended leaves it to the attempt, which frees it last.
                Abandon(fetch, abandonTakesSlot ? plan.TakeSlot() : null);
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

        lock (Gate)
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
        lock (Gate)
        {
            Abandoned = ended;
        }
    }
}
