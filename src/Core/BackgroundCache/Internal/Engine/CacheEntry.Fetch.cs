using BackgroundCache.Coordination;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal.Engine;

/// <summary>The fetch itself: direct or through the coordinator, bounded by the fetch timeout, and abandoned when it overruns.</summary>
internal partial class CacheEntry<T>
{
    /// <summary>
    /// The call through the coordinator, which decides whether this instance calls the upstream (bounded by FetchTimeout) or
    /// takes the value another instance stored; the coordinator bounds its own waits in real time.
    /// </summary>
    private async ValueTask<(T Value, long? Version, bool FromUpstream)> CoordinatedFetchAsync(ICacheCoordinator<T> coordinator, AttemptPlan plan, RefreshingCacheOptions options, CancellationToken cancellationToken)
    {
        var rejected = plan.Rejected;
        var result = await coordinator.RefreshAsync(
            Coordination,
            ct => Timed(plan, options, ct), // the budget slot stays with the attempt; an abandoned call is waited out by the next
            plan.Requested,
            rejected is null ? default : rejected.Value,
            plan.DecidedOnVersion,
            cancellationToken).ConfigureAwait(false);
        return (result.Value, result.Version, result.FromUpstream);
    }

    /// <summary>
    /// Runs the coordinator's upstream call bounded by FetchTimeout on the cache's clock (a direct call is timed the same way,
    /// inline in the attempt); a call that outlives it is abandoned, not overlapped.
    /// The timeout is a due time in the engine's scheduler that cancels the attempt's own token source (a coordinator's
    /// token gets one linked source): no timer, and nothing registered on a long-lived token (issue #21).
    /// </summary>
    private ValueTask<T> Timed(AttemptPlan plan, RefreshingCacheOptions options, CancellationToken cancellationToken)
    {
        var fetch = StartTimed(plan, options, _engine.Time.GetTimestamp(), cancellationToken);
        return fetch.Pending is null ? new ValueTask<T>(fetch.Value) : AwaitTimedAsync(fetch, plan, options);
    }

    /// <summary>
    /// Starts the upstream call with its deadline. A call that completed at once is over (its deadline taken out); a pending
    /// one is awaited by the caller with <see cref="TimedOut"/> and <see cref="EndTimed"/> around the wait. The deadline runs from
    /// <paramref name="started"/>, a timestamp of the engine's clock.
    /// </summary>
    private TimedFetch StartTimed(AttemptPlan plan, RefreshingCacheOptions options, long started, CancellationToken cancellationToken)
    {
        var engine = _engine;
        var attempt = Volatile.Read(ref _attemptCts);
        var linked = attempt is not null && attempt.Token == cancellationToken ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked?.Token ?? cancellationToken;

        // The deadline is scheduled before the fetch starts, so a test clock can end a hanging fetch.
        var deadline = FetchDeadline.Start(engine.Deadlines, started, options.FetchTimeout, linked ?? attempt!, reusable: plan);
        ValueTask<T> fetch;
        IServiceScope? scope = null;
        try
        {
            fetch = engine.FetchAsync(this, plan.Rejected, token, out scope);
        }
        catch
        {
            deadline.Disarm();
            linked?.Dispose();
            scope?.Dispose();
            throw;
        }

        if (fetch.IsCompletedSuccessfully)
        {
            deadline.Disarm();
            linked?.Dispose();
            var value = fetch.Result;
            var disposing = DisposeScopeAsync(scope);
            return disposing.IsCompletedSuccessfully
                ? new TimedFetch(value, null, deadline, null, null, token)
                : new TimedFetch(default!, ValueAfterAsync(disposing, value), deadline, null, null, token); // a scope that disposes slowly
        }

        return new TimedFetch(default!, fetch.AsTask(), deadline, linked, scope, token);
    }

    /// <summary>Disposes a call's scope (asynchronously when its services can).</summary>
    private static ValueTask DisposeScopeAsync(IServiceScope? scope)
    {
        if (scope is IAsyncDisposable asyncScope)
        {
            return asyncScope.DisposeAsync();
        }

        scope?.Dispose();
        return default;
    }

    private static async Task<T> ValueAfterAsync(ValueTask disposing, T value)
    {
        await disposing.ConfigureAwait(false);
        return value;
    }

    private async ValueTask<T> AwaitTimedAsync(TimedFetch fetch, AttemptPlan plan, RefreshingCacheOptions options)
    {
        try
        {
            return await fetch.Pending!.WaitAsync(fetch.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (fetch.Deadline.HasFired && !IsStopping())
        {
            throw TimedOut(ex, options);
        }
        finally
        {
            var disposing = EndTimed(fetch, plan, abandonTakesSlot: false);
            if (!disposing.IsCompletedSuccessfully)
            {
                await disposing.ConfigureAwait(false);
            }
        }
    }

    /// <summary>The error of a call the deadline cancelled.</summary>
    private TimeoutException TimedOut(OperationCanceledException cancelled, RefreshingCacheOptions options) =>
        new($"The fetch for cache '{DisplayName}' did not complete within FetchTimeout ({options.FetchTimeout}).", cancelled);

    /// <summary>
    /// Ends the wait for a pending call: its deadline taken out, and the call abandoned if it has not ended. Returns the
    /// disposal of the call's scope (done when the call has ended; an abandoned call's scope goes with it).
    /// </summary>
    private ValueTask EndTimed(TimedFetch fetch, AttemptPlan plan, bool abandonTakesSlot)
    {
        fetch.Deadline.Disarm();
        fetch.Linked?.Dispose();
        if (fetch.Pending!.IsCompleted)
        {
            return DisposeScopeAsync(fetch.Scope);
        }

        // The slot goes with an abandoned fetch: it is freed when the call really ends, so the fetch budget counts calls
        // actually in flight. A fetch that ended leaves it to the attempt, which frees it last.
        Abandon(fetch.Pending, abandonTakesSlot ? plan.TakeSlot() : null, fetch.Scope);
        return default;
    }

    /// <summary>An upstream call started with its deadline: its value, or the call still pending.</summary>
    private readonly struct TimedFetch(T value, Task<T>? pending, FetchDeadline deadline, CancellationTokenSource? linked, IServiceScope? scope, CancellationToken token)
    {
        public IServiceScope? Scope { get; } = scope;

        public T Value { get; } = value;

        public Task<T>? Pending { get; } = pending;

        public FetchDeadline Deadline { get; } = deadline;

        public CancellationTokenSource? Linked { get; } = linked;

        public CancellationToken Token { get; } = token;
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

    private void Abandon(Task fetch, IDisposable? slot, IServiceScope? scope)
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

                try
                {
                    var disposing = DisposeScopeAsync(scope);
                    if (!disposing.IsCompletedSuccessfully)
                    {
                        _ = disposing.AsTask().ContinueWith(
                            d => Log.AbandonedFetchScopeDisposeFailed(logger, d.Exception!.InnerException ?? d.Exception, name),
                            CancellationToken.None,
                            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                            TaskScheduler.Default);
                    }
                }
                catch (Exception ex)
                {
                    Log.AbandonedFetchScopeDisposeFailed(logger, ex, name); // logged; the slot is still freed
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
