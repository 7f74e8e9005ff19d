using BackgroundCache.Coordination;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// One value's state machine: its snapshot, schedule, expiry, failures and pending requests. A single cache drives one
/// entry; a set drives one per key. A bug fixed here is fixed everywhere.
/// </summary>
/// <remarks>
/// <para>Reads are a volatile read of <see cref="_current"/>: no lock, no clock, no allocation. Everything else happens
/// under <see cref="_gate"/>, and nothing that calls out (the engine, observers, user code, task continuations that run
/// synchronously) is called while it is held.</para>
/// <para>States: NotStarted → Idle ⇄ Running (one attempt at a time) ⇄ Parked (a set backing off as a whole) → Stopped.
/// While Idle the entry holds one wake in the scheduler: the earlier of its next refresh and its value's withdrawal.</para>
/// </remarks>
/// <typeparam name="T">The type of the cached value.</typeparam>
internal partial class CacheEntry<T> : DueTimeHeapItem, IRefreshingCache<T>, ISchedulable
{
    private const long NoWake = long.MaxValue;

    private readonly CacheEngine<T> _engine;
    private readonly object _gate; // the entry itself (Monitor): a Lock object would cost 40 B per key of a set (issue #21)
    private volatile CacheSnapshot<T>? _current;
    private volatile bool _touched;
    private EntryState _state;
    private long _version;
    private int _failures;
    private Exception? _lastError;
    private UtcTime? _startedAt; // UtcTime: 16 bytes where a DateTimeOffset? takes 24 (issue #21)
    private UtcTime? _lastAttemptAt;
    private UtcTime? _blockedUntil;
    private UtcTime? _due;
    private UtcTime? _retireAt;
    private long _wakeTicks = NoWake;
    private TaskCompletionSource<T>? _pending;
    private CacheSnapshot<T>? _pendingRejected;
    private CacheSnapshot<T>? _runningRejected;
    private CacheSnapshot<T>? _reportedDuringAttempt;
    private TaskCompletionSource<T>? _inflight;
    private TaskCompletionSource? _changed;
    private CancellationTokenSource? _attemptCts;
    private Task? _abandoned;
    private CoordinatedEntry<T>? _coordination;

    public CacheEntry(CacheEngine<T> engine)
    {
        _engine = engine;
        _gate = this;
    }

    private enum EntryState : byte
    {
        NotStarted,
        Idle,
        Running,
        Parked,
        Stopped,
    }

    /// <summary>Gets the name used in logs, statuses and exceptions.</summary>
    public virtual string DisplayName => _engine.Name;

    /// <summary>Gets the key of the entry in a shared store (<c>""</c> for a single cache).</summary>
    public virtual string CoordinationKey => string.Empty;

    /// <summary>Gets the published snapshot, or null.</summary>
    public CacheSnapshot<T>? Current => _current;

    /// <summary>Gets what a coordinator sees of this entry: another object, so a reader holding the entry cannot reach it.</summary>
    public ICoordinatedEntry<T> Coordination => Volatile.Read(ref _coordination) ?? CoordinatedEntry<T>.Attach(this, ref _coordination);

    /// <summary>Gets the consecutive failures without taking the lock (metrics).</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _failures);
}
