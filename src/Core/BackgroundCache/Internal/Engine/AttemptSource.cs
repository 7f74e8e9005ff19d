using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal.Engine;

/// <summary>An attempt that waits for its pending fetch through an <see cref="AttemptSource"/>.</summary>
internal interface IPendingAttempt
{
    /// <summary>
    /// Goes on with the attempt once its fetch ended (<paramref name="cancelled"/> false) or its token was cancelled first
    /// (true: the deadline or a stop; the fetch, if it ignores its token, is abandoned). Called exactly once per wait.
    /// </summary>
    void Resume(AttemptSource source, bool cancelled);
}

/// <summary>
/// An attempt's token source, which also waits for the attempt's pending fetch: the continuation on the fetch's task and
/// the registration on the token race, and the first one resumes the attempt. It replaces an <c>async</c> attempt's state
/// machine and the promise of <c>WaitAsync(token)</c> on the common path (a direct call that does not complete at once);
/// the source is kept for later attempts with its continuation delegate and the token's registration node, so a refresh
/// allocates neither (issue #21). What the attempt needs when it resumes is kept here, on the pooled object, not on the
/// per-attempt plan.
/// </summary>
internal sealed class AttemptSource : CancellationTokenSource
#if NET
    , IThreadPoolWorkItem
#endif
{
    private const int Waiting = 0;
    private const int FetchEnded = 1;
    private const int CancelledFirst = 2;

    private Action? _onFetchEnded;
    private IPendingAttempt? _attempt;
    private CancellationTokenRegistration _cancellation;
    private int _outcome;

    /// <summary>Gets a value indicating whether a wait ended by cancellation before its fetch: the fetch's continuation
    /// still refers to this source, which is then never reused.</summary>
    public bool OutlivedByFetch => Volatile.Read(ref _outcome) == CancelledFirst;

    /// <summary>Gets the pending fetch (a <c>Task&lt;T&gt;</c>) while the attempt waits for it.</summary>
    public Task? Pending { get; private set; }

    /// <summary>Gets the pending fetch's deadline.</summary>
    public FetchDeadline? Deadline { get; private set; }

    /// <summary>Gets the source linked to a foreign token for the call, if one was needed.</summary>
    public CancellationTokenSource? Linked { get; private set; }

    /// <summary>Gets the DI scope of the call, disposed when the call ends.</summary>
    public IServiceScope? Scope { get; private set; }

    /// <summary>Gets the token the call was given.</summary>
    public CancellationToken CallToken { get; private set; }

    /// <summary>Gets the options the attempt started with.</summary>
    public RefreshingCacheOptions? Options { get; private set; }

    /// <summary>Gets the attempt's start timestamp.</summary>
    public long Started { get; private set; }

    /// <summary>Gets the attempt's activity, if traced.</summary>
    public Activity? Activity { get; private set; }

    /// <summary>
    /// Waits for <paramref name="pending"/> or for <paramref name="callToken"/>, whichever comes first, then resumes
    /// <paramref name="attempt"/> (on the thread that completed the fetch, or on the thread pool after a cancellation, so
    /// the attempt never goes on inside a <c>Cancel</c> call that may hold a lock).
    /// </summary>
    public void AwaitFetch(IPendingAttempt attempt, Task pending, FetchDeadline deadline, CancellationTokenSource? linked, IServiceScope? scope, RefreshingCacheOptions options, long started, Activity? activity, CancellationToken callToken)
    {
        Debug.Assert(Volatile.Read(ref _outcome) == Waiting, "a source waits for one fetch at a time, and one outlived by its fetch is never reused");
        _attempt = attempt;
        Pending = pending;
        Deadline = deadline;
        Linked = linked;
        Scope = scope;
        CallToken = callToken;
        Options = options;
        Started = started;
        Activity = activity;
#if NET
        _cancellation = callToken.UnsafeRegister(static s => ((AttemptSource)s!).OnCancelled(), this);
#else
        _cancellation = callToken.Register(static s => ((AttemptSource)s!).OnCancelled(), this, useSynchronizationContext: false);
#endif
        pending.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onFetchEnded ??= OnFetchEnded);
    }

    /// <summary>Forgets what the last wait held (nothing stays reachable from a spare source).</summary>
    public void Clear()
    {
        _attempt = null;
        Pending = null;
        Deadline = null;
        Linked = null;
        Scope = null;
        CallToken = default;
        Options = null;
        Activity = null;
    }

    /// <summary>Prepares a spare source for its next attempt: reset, and its last wait forgotten.</summary>
    public bool TryPrepareForReuse()
    {
        if (OutlivedByFetch)
        {
            return false;
        }

        Clear();
#if NET
        return TryReset();
#else
        return false;
#endif
    }

#if NET
    /// <inheritdoc />
    void IThreadPoolWorkItem.Execute() => Resume(cancelled: true);
#endif

    private void OnFetchEnded()
    {
        if (Interlocked.CompareExchange(ref _outcome, FetchEnded, Waiting) != Waiting)
        {
            return; // cancelled first: the attempt abandoned the fetch; its end is logged by the abandonment
        }

        // The cancellation callback can no longer resume the attempt; unregistered before the source may be reused.
        _cancellation.Dispose();
        _cancellation = default;
        Volatile.Write(ref _outcome, Waiting);
        Resume(cancelled: false);
    }

    private void OnCancelled()
    {
        if (Interlocked.CompareExchange(ref _outcome, CancelledFirst, Waiting) != Waiting)
        {
            return;
        }

#if NET
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
#else
        ThreadPool.UnsafeQueueUserWorkItem(static s => ((AttemptSource)s!).Resume(cancelled: true), this);
#endif
    }

    private void Resume(bool cancelled)
    {
        var attempt = _attempt!;
        try
        {
            attempt.Resume(this, cancelled);
        }
        catch (Exception ex)
        {
            // The attempt records its own failures; an error past that (a logger that throws) must not end the process,
            // as it would not have from an async attempt's unobserved task.
            Debug.Fail("An attempt's resumption threw.", ex.ToString());
        }
    }
}
