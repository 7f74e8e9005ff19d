using BackgroundCache.Coordination;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// One value's state machine: its snapshot, schedule, expiry, failures and pending requests. A single cache drives one
/// entry; a set drives one per key. A bug fixed here is fixed everywhere.
/// </summary>
/// <remarks>
/// <para>Reads are a volatile read of <see cref="_current"/>: no lock, no clock, no allocation. Everything else happens
/// under <see cref="Gate"/>, and nothing that calls out (the engine, observers, user code, task continuations that run
/// synchronously) is called while it is held.</para>
/// <para>States: NotStarted → Idle ⇄ Running (one attempt at a time) ⇄ Parked (a set backing off as a whole) → Stopped.
/// While Idle the entry holds one wake in the scheduler: the earlier of its next refresh and its value's withdrawal.</para>
/// </remarks>
/// <typeparam name="T">The type of the cached value.</typeparam>
internal partial class CacheEntry<T> : DueTimeHeapItem, IRefreshingCache<T>, ISchedulable
{
    private const long NoWake = long.MaxValue;

    private const long NoTime = long.MinValue;

    // A read touches only the first fields of the entry (and the shared engine, hot in every core's cache): references,
    // declared first, so the runtime lays them side by side in one cache line. For a reference type the value itself is
    // one of them, so a read does not follow the snapshot (another object, allocated at refresh time far from the
    // entry: a cache and TLB miss per read at 100,000 keys, issue #21). The read mark, a bool laid out after every long
    // and int, a line away, is only touched when the set evicts idle keys.
    private volatile CacheSnapshot<T>? _current;
    private volatile object? _currentValue; // _current's value when T is a reference type: a read skips the snapshot
    private readonly CacheEngine<T> _engine;
    private volatile bool _touched;
    private EntryState _state;
    private long _version;
    private int _failures;
    private Exception? _lastError;

    // Times as UTC ticks (NoTime: none), 8 bytes each where a UtcTime? takes 16 and a DateTimeOffset? 24 (issue #21).
    private long _startedAtTicks = NoTime;
    private long _lastAttemptAtTicks = NoTime;
    private long _blockedUntilTicks = NoTime;
    private long _dueTicks = NoTime;
    private long _retireAtTicks = NoTime;
    private long _wakeTicks = NoWake;
    private TaskCompletionSource<T>? _pending;
    private TaskCompletionSource<T>? _inflight;
    private CancellationTokenSource? _attemptCts;
    private CoordinatedEntry<T>? _coordination;
    private RareState? _rare;

    public CacheEntry(CacheEngine<T> engine) => _engine = engine;

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

    /// <summary>Gets the entry's lock: the entry itself (Monitor), as a <c>Lock</c> object or a field would cost bytes per key of a set (issue #21).</summary>
    private object Gate => this;

    private UtcTime? StartTime { get => At(_startedAtTicks); set => _startedAtTicks = TicksOf(value); }

    private UtcTime? LastAttemptTime { get => At(_lastAttemptAtTicks); set => _lastAttemptAtTicks = TicksOf(value); }

    private UtcTime? BlockedUntilTime { get => At(_blockedUntilTicks); set => _blockedUntilTicks = TicksOf(value); }

    private UtcTime? DueTime { get => At(_dueTicks); set => _dueTicks = TicksOf(value); }

    private UtcTime? RetireTime { get => At(_retireAtTicks); set => _retireAtTicks = TicksOf(value); }

    // The rarely set fields live in RareState (under the lock, allocated by the first non-null write).
    private CacheSnapshot<T>? PendingRejected { get => _rare?.PendingRejected; set => Rare(value is not null)?.PendingRejected = value; }

    private CacheSnapshot<T>? RunningRejected { get => _rare?.RunningRejected; set => Rare(value is not null)?.RunningRejected = value; }

    private CacheSnapshot<T>? ReportedDuringAttempt { get => _rare?.ReportedDuringAttempt; set => Rare(value is not null)?.ReportedDuringAttempt = value; }

    private long RefreshedDuringAttempt { get => _rare?.RefreshedDuringAttempt ?? 0; set => Rare(value != 0)?.RefreshedDuringAttempt = value; }

    private TaskCompletionSource? Changed { get => _rare?.Changed; set => Rare(value is not null)?.Changed = value; }

    private Task? Abandoned { get => _rare?.Abandoned; set => Rare(value is not null)?.Abandoned = value; }

    private static UtcTime? At(long ticks) => ticks == NoTime ? null : UtcTime.FromUtcTicks(ticks);

    private static long TicksOf(UtcTime? time) => time is { } value ? value.UtcTicks : NoTime;

    /// <summary>Gets the rare fields' holder, creating it when <paramref name="create"/> (a non-null write); null when none is needed.</summary>
    private RareState? Rare(bool create) => create ? _rare ??= new RareState() : _rare;

    /// <summary>
    /// What most entries never hold: a report's snapshots, a forced refresh's version during an attempt, the waiters of a
    /// first value, a fetch abandoned after its timeout.
    /// Apart from the entry so that a key of a set costs 32 bytes less (issue #21); read and written under the entry's lock.
    /// </summary>
    private sealed class RareState
    {
        public CacheSnapshot<T>? PendingRejected { get; set; }

        public CacheSnapshot<T>? RunningRejected { get; set; }

        public CacheSnapshot<T>? ReportedDuringAttempt { get; set; }

        public long RefreshedDuringAttempt { get; set; }

        public TaskCompletionSource? Changed { get; set; }

        public Task? Abandoned { get; set; }
    }
}
