using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using BackgroundCache.Coordination;
using BackgroundCache.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal.Engine;

/// <summary>How an attempt ended, for the engine's view across entries (a set's outage detection).</summary>
internal enum AttemptOutcome
{
    Success,
    Failure,
    Cancelled,
}

/// <summary>
/// What the entries of one cache, or of one set, share: name, options, clock, logging, metrics, the scheduler with its one
/// timer, the stop signal, and the fetch. A single cache is an engine with one entry; a set is an engine with many, plus a
/// fetch budget and whole-set backoff.
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
internal abstract class CacheEngine<T> : IDisposable
{
    private static readonly RefreshingCacheOptionsValidator Validator = new();
    private static readonly string ValueTypeName = TypeNames.Of(typeof(T));
    private static readonly TaskCompletionSource AlreadyDrained = Completed(); // what a stop with nothing running waits on
    private readonly IOptionsMonitor<RefreshingCacheOptions> _optionsMonitor;
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource? _drained; // created at stop if attempts still run (a running engine holds none)
    private readonly OptionsChanges _optionsChanges;
    private RefreshingCacheOptions? _options;
    private int _optionsReadAt = -1; // the change count when the options were last read; -1: never
    private string? _rejectedOptions;
    private readonly Lock _quietGate = new();
    private TaskCompletionSource? _quiet;
    private int _activeAttempts;
    private int _stopped;
#if NET
    private AttemptSource? _spareSource; // the first spare in a field: a single cache keeps one and needs no array
    private AttemptSource?[]? _spareSources; // the others (a set's budget runs several attempts at once)
#endif

    protected CacheEngine(
        string name,
        IOptionsMonitor<RefreshingCacheOptions> options,
        TimeProvider time,
        ILogger logger,
        CacheMetrics metrics,
        Func<T, DateTimeOffset?>? expirySelector,
        IReadOnlyList<ICacheValueObserver<T>> observers)
    {
        Name = name;
        _optionsMonitor = options;
        Time = time;
        Logger = logger;
        Metrics = metrics;
        ExpirySelector = expirySelector;
        Observers = observers;
        Scheduler = new RefreshScheduler(time, OnSchedulerCallbackFailed); // a method, not a closure (bytes per single cache)
        Deadlines = new FetchDeadlines(Scheduler, time);

        // The options are read once per change the monitor signals, not per attempt (issue #21).
        _optionsChanges = OptionsChanges.Of(options);
    }

    public string Name { get; }

    /// <summary>
    /// Gets or sets a value indicating whether reads mark their entry (a set that evicts idle keys needs the mark; a single
    /// cache and a set without <c>EvictAfterIdle</c> do not, and their reads skip a field a cache line away). True until
    /// a set has read its options at start, so no read before that is missed.
    /// </summary>
    public bool TracksReads { get; protected set; } = true;

    /// <summary>Records one attempt on the refresh metrics, tagged with the cache's name and value type.</summary>
    public void RecordAttempt(string outcome, TimeSpan duration) => Metrics.RecordAttempt(Name, ValueTypeName, outcome, duration);

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    public CacheMetrics Metrics { get; }

    public RefreshScheduler Scheduler { get; }

    /// <summary>Gets the pending fetches' deadlines (one item in <see cref="Scheduler"/> for all of them).</summary>
    public FetchDeadlines Deadlines { get; }

    public Func<T, DateTimeOffset?>? ExpirySelector { get; }

    public IReadOnlyList<ICacheValueObserver<T>> Observers { get; }

    public CancellationToken Stopping => _stopping.Token;

    public bool IsStopped => Volatile.Read(ref _stopped) != 0;

    /// <summary>
    /// Gets the current valid options. A reload that fails validation is logged once and ignored: the last valid options
    /// stay in force (an operator's typo in a reloadable appsettings.json never stops the refreshes or the host), and the
    /// next valid reload is taken. Read from the monitor again only after it signalled a change.
    /// </summary>
    public RefreshingCacheOptions Options
    {
        get
        {
            var changes = _optionsChanges.Count;
            if (changes == Volatile.Read(ref _optionsReadAt) && _options is { } known)
            {
                return known;
            }

            Volatile.Write(ref _optionsReadAt, changes); // taken before the read: a change signalled during it is read next time
            RefreshingCacheOptions current;
            try
            {
                current = _optionsMonitor.Get(Name);
            }
            catch (OptionsValidationException ex) when (_options is { } lastValid)
            {
                Rejected(string.Join(" ", ex.Failures));
                return lastValid;
            }

            if (ReferenceEquals(current, _options))
            {
                return current;
            }

            var result = Validator.Validate(Name, current);
            if (result.Failed && _options is { } valid)
            {
                Rejected(result.FailureMessage);
                return valid;
            }

            _options = current;
            return current;
        }
    }

    /// <summary>Gets a value indicating whether a value's next refresh after an out-of-schedule load is spread (sets).</summary>
    public virtual bool SpreadRefreshes => false;

    /// <summary>Gets the issuer's token renewal rule that the fetch declares (<see cref="ITokenRenewalRule"/>), or null.</summary>
    public virtual TokenRenewal? Renewal => null;

    /// <summary>Gets the coordinator that decides who calls the upstream (Redis), or null.</summary>
    public virtual ICacheCoordinator<T>? Coordinator => null;

    /// <summary>Gets the error that holds the whole engine back (a set's outage), or null.</summary>
    public virtual Exception? SharedError => null;

    /// <summary>Gets when a parked entry may next be tried (a set's next probe), or null.</summary>
    public virtual DateTimeOffset? ParkedUntil => null;

    /// <summary>Reads the options at start; an invalid configuration throws and fails host start, naming the setting.</summary>
    public RefreshingCacheOptions ValidateOptions()
    {
        var options = _optionsMonitor.Get(Name);
        var result = Validator.Validate(Name, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Name, typeof(RefreshingCacheOptions), result.Failures);
        }

        _options = options;
        return options;
    }

    private void Rejected(string failures)
    {
        if (!string.Equals(Interlocked.Exchange(ref _rejectedOptions, failures), failures, StringComparison.Ordinal))
        {
            Log.OptionsReloadRejected(Logger, Name, failures);
        }
    }

    /// <summary>
    /// Fetches a value for <paramref name="entry"/>; <paramref name="rejected"/> is the value an invalidation refused. A
    /// dependency-injection scope made for the call comes out in <paramref name="scope"/>: the caller disposes it once the
    /// call has ended (an abandoned call: when it really ends), so no wrapper task is needed per fetch (issue #21).
    /// </summary>
    public abstract ValueTask<T> FetchAsync(CacheEntry<T> entry, CacheSnapshot<T>? rejected, CancellationToken cancellationToken, out IServiceScope? scope);

    public virtual DateTimeOffset? GetExpiresAt(T value)
    {
        if (ExpirySelector is { } selector)
        {
            return selector(value);
        }

        return value is AccessToken token ? token.ExpiresAt : null;
    }

    /// <summary>
    /// Waits for a slot in the fetch budget; null when the engine has none. Disposing the lease frees the slot. Only an
    /// attempt that gave its slot back to wait out an abandoned fetch waits here; others get theirs at launch.
    /// </summary>
    public virtual ValueTask<IDisposable?> AcquireFetchSlotAsync(CancellationToken cancellationToken) => new((IDisposable?)null);

    /// <summary>Frees a fetch slot at the end of an attempt, on a thread that may run the attempt it is handed to.</summary>
    public virtual void ReleaseSlot(IDisposable slot) => slot.Dispose();

    /// <summary>Whether <paramref name="entry"/> may call the upstream now (false while a set backs off as a whole).</summary>
    public virtual bool TryAdmit(CacheEntry<T> entry) => true;

    /// <summary>Takes an entry that <see cref="TryAdmit"/> turned away; the engine resumes it later.</summary>
    public virtual void Park(CacheEntry<T> entry, DateTimeOffset now) => entry.Resume(now);

    /// <summary>Called after each attempt of any entry, outside the entry's lock.</summary>
    public virtual void OnAttemptEnded(CacheEntry<T> entry, AttemptOutcome outcome, Exception? error, DateTimeOffset now)
    {
    }

    /// <summary>
    /// Runs an attempt off the caller's thread (a reader's <c>GetOrAdd</c>, the timer's callback), tracked for stop. An
    /// attempt that finds its engine's fetch budget full waits in the budget as its plan, not as a started attempt.
    /// </summary>
    public void Launch(CacheEntry<T> entry, CacheEntry<T>.AttemptPlan plan)
    {
        Interlocked.Increment(ref _activeAttempts);
        Debug.Assert(ReferenceEquals(plan.Entry, entry), "a plan runs for the entry that made it");
        if (TakeSlotOrQueue(plan))
        {
            plan.RunOnPool(preferLocal: false);
        }
    }

    /// <summary>
    /// Takes a fetch slot for <paramref name="plan"/> (setting <see cref="CacheEntry{T}.AttemptPlan.Slot"/>) and returns
    /// true, or queues the plan, which the budget runs when a slot is handed to it. Engines without a budget run it now.
    /// </summary>
    protected virtual bool TakeSlotOrQueue(CacheEntry<T>.AttemptPlan plan) => true;

    /// <summary>
    /// Gets how many token sources of attempts that ended quietly are kept for the next attempts: one for a single cache
    /// (one attempt at a time), more for a set whose budget runs several at once.
    /// </summary>
    protected virtual int SpareTokenSources => 1;

    /// <summary>Gets a token source for an attempt: a spare one, reset after an attempt that ended quietly, or a new one.</summary>
    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Uses the engine's spares on .NET; netstandard2.0 has none.")]
    public AttemptSource RentAttemptSource()
    {
#if NET
        if (Interlocked.Exchange(ref _spareSource, null) is { } first)
        {
            return first;
        }

        if (Volatile.Read(ref _spareSources) is { } spares)
        {
            for (var i = 0; i < spares.Length; i++)
            {
                if (Interlocked.Exchange(ref spares[i], null) is { } spare)
                {
                    return spare;
                }
            }
        }
#endif
        return new AttemptSource();
    }

    /// <summary>
    /// Takes back an attempt's token source. It is kept for a later attempt only when <paramref name="reusable"/> says
    /// nobody can cancel it any more (the attempt's entry dropped it under its lock, its deadline never fired, no
    /// coordinator holds its token) and <c>CancellationTokenSource.TryReset</c> succeeds; otherwise it is
    /// disposed. A refresh then allocates no token source (issue #21). netstandard2.0 has no TryReset: always disposed.
    /// </summary>
    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Uses the engine's spares on .NET; netstandard2.0 has none.")]
    public void ReturnAttemptSource(AttemptSource source, bool reusable)
    {
#if NET
        if (reusable && !IsStopped && source.TryPrepareForReuse())
        {
            if (Interlocked.CompareExchange(ref _spareSource, source, null) is null)
            {
                return;
            }

            var spares = Volatile.Read(ref _spareSources);
            if (spares is null && SpareTokenSources > 1)
            {
                var created = new AttemptSource?[SpareTokenSources - 1];
                spares = Interlocked.CompareExchange(ref _spareSources, created, null) ?? created;
            }

            if (spares is not null)
            {
                for (var i = 0; i < spares.Length; i++)
                {
                    if (Interlocked.CompareExchange(ref spares[i], source, null) is null)
                    {
                        return;
                    }
                }
            }
        }
#endif
        source.Dispose();
    }

    public void AttemptFinished()
    {
        if (Interlocked.Decrement(ref _activeAttempts) != 0)
        {
            return;
        }

        if (IsStopped)
        {
            Drained.TrySetResult();
        }

        lock (_quietGate)
        {
            if (Volatile.Read(ref _activeAttempts) == 0)
            {
                _quiet?.TrySetResult();
                _quiet = null;
            }
        }
    }

    /// <summary>Gets the number of attempts running (waiting for a slot, fetching, or recording).</summary>
    public int ActiveAttempts => Volatile.Read(ref _activeAttempts);

    /// <summary>
    /// Completes when no attempt runs (test and benchmark hook). With a fake clock this is deterministic: attempts start
    /// inside <c>Advance</c> (timer callbacks) or inside the call that requests them, and an attempt that resumes others
    /// launches them before it ends, so the count never touches zero between cascading attempts.
    /// </summary>
    public Task WhenQuiescentAsync()
    {
        lock (_quietGate)
        {
            return Volatile.Read(ref _activeAttempts) == 0
                ? Task.CompletedTask
                : (_quiet ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>Signals stop: cancels every fetch and wait for a fetch slot, and stops the timer.</summary>
    public void BeginStop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        Scheduler.Dispose();
        if (Volatile.Read(ref _activeAttempts) == 0)
        {
            // Nothing to wait for, the usual case: the shared completed source, no allocation per engine (a host of
            // 10,000s of single caches stops them one after the other, issue #21). One a waiter already made is completed.
            (Interlocked.CompareExchange(ref _drained, AlreadyDrained, null) ?? AlreadyDrained).TrySetResult();
        }
    }

    /// <summary>Waits until every attempt has ended (they end promptly once cancelled; a fetch that ignores it is abandoned).</summary>
    public Task WaitDrainedAsync(CancellationToken cancellationToken) => Drained.Task.WaitAsync(cancellationToken);

    private static TaskCompletionSource Completed()
    {
        var source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        source.SetResult();
        return source;
    }

    private TaskCompletionSource Drained =>
        Volatile.Read(ref _drained)
        ?? Interlocked.CompareExchange(ref _drained, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), null)
        ?? _drained!;

    /// <summary>Called when an entry becomes idle with its next wake scheduled: a single cache's test hook (sets have none).</summary>
    public virtual void NotifyIdle(CacheEntry<T> entry)
    {
    }

    private void OnSchedulerCallbackFailed(Exception exception) => Log.SchedulerCallbackFailed(Logger, exception, Name);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            // The stop source is not disposed: an attempt queued just before may still link to its token (it holds no timer).
            BeginStop();
        }
    }
}
