using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using BackgroundCache.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// A refreshing cache set: one engine, one timer and one fetch budget over many keys, each an entry with the same state
/// machine as a single cache. Backs off as a whole when the upstream fails every key (see <see cref="OutageThreshold"/>).
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="T">The type of the cached values.</typeparam>
internal sealed partial class RefreshingCacheSet<TKey, T> : CacheEngine<T>, IRefreshingCacheSet<TKey, T>, IHostedLifecycleService, CacheMetrics.IMetricsSource
    where TKey : notnull
{
    /// <summary>
    /// How many distinct keys must fail in a row, with no success anywhere in the set in between, before the set treats it
    /// as an outage of the whole upstream: it then stops fetching, and probes one key at a time with exponential backoff
    /// (RetryInitialDelay to RetryMaxDelay) until one succeeds. One key that keeps failing never reaches it.
    /// </summary>
    internal const int OutageThreshold = 5;

    private readonly KeyTable<TKey, KeyedEntry> _entries = new();
    private readonly CacheSetRegistration<TKey, T> _registration;
    private readonly IServiceProvider _services;
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<RefreshingCacheSetOptions> _setOptionsMonitor;
    private readonly Func<IServiceProvider, TKey, CancellationToken, ValueTask<T>> _fetch;
    private readonly Lock _outageGate = new();
    private readonly Queue<KeyedEntry> _parkedRequested = new();
    private readonly Queue<KeyedEntry> _parked = new();
    private readonly ScheduledAction _probe;
    private readonly ScheduledAction _sweep;
    private RefreshingCacheSetOptions _setOptions = new();
    private FetchBudget? _budget;
    private Task? _initialKeysRetry;
    private Task? _started;
    private volatile bool _isStarted;

    // Whole-set backoff, under _outageGate.
    private readonly KeyedEntry?[] _streak = new KeyedEntry?[OutageThreshold]; // distinct keys failing since the last success
    private int _streakKeys;
    private bool _outage;
    private int _probes;
    private bool _probeArmed;
    private KeyedEntry? _probeEntry;
    private DateTimeOffset? _probeAt;
    private Exception? _outageError;

    public RefreshingCacheSet(
        CacheSetRegistration<TKey, T> registration,
        IServiceProvider services,
        IOptionsMonitor<RefreshingCacheOptions> options,
        IOptionsMonitor<RefreshingCacheSetOptions> setOptions,
        TimeProvider time,
        ILogger logger,
        CacheMetrics metrics)
        : base(registration.Name, options, time, logger, metrics, registration.ExpirySelector, [])
    {
        _registration = registration;
        _services = services;
        _scopes = services.GetRequiredService<IServiceScopeFactory>();
        _setOptionsMonitor = setOptions;
        _fetch = registration.CreateFetch(services);
        Coordinator = registration.Coordinator?.Invoke(services);
        _probe = new ScheduledAction(Scheduler, OnProbeDue);
        _sweep = new ScheduledAction(Scheduler, OnSweepDue);
        metrics.Register(this);
    }

    public int Count => _entries.Count;

    public IReadOnlyCollection<TKey> Keys => _entries.Keys.ToArray();

    public override bool SpreadRefreshes => true;

    /// <inheritdoc />
    /// <remarks>Up to 64: a spare source also carries its wait for a pending fetch (a continuation delegate and a token
    /// registration), so a set with many slow fetches in flight allocates none of that per refresh; 64 spares of ~250 B
    /// are kept at most, and only after that many attempts ran at once.</remarks>
    protected override int SpareTokenSources => Math.Max(1, Math.Min(_setOptions.MaxConcurrentFetches, 64));

    public override ICacheCoordinator<T>? Coordinator { get; }

    public override TokenRenewal? Renewal => _registration.RenewalRule?.Renewal;

    public override Exception? SharedError
    {
        get
        {
            lock (_outageGate)
            {
                return _outage ? _outageError : null;
            }
        }
    }

    public override DateTimeOffset? ParkedUntil
    {
        get
        {
            lock (_outageGate)
            {
                return _outage ? _probeAt : null;
            }
        }
    }

    /// <summary>Gets a value indicating whether the set backs off as a whole.</summary>
    public bool InOutage
    {
        get
        {
            lock (_outageGate)
            {
                return _outage;
            }
        }
    }

    /// <summary>Gets the number of fetches that wait for a slot in the budget.</summary>
    public int FetchesQueued => _budget?.Queued ?? 0;

    /// <summary>Gets the number of fetches that hold a slot in the budget (calls in flight).</summary>
    public int FetchesActive => _budget?.Held ?? 0;

    TimeProvider CacheMetrics.IMetricsSource.TimeProvider => Time;

    public IRefreshingCache<T> GetOrAdd(TKey key) => GetOrAddEntry(key);

    public bool TryGetValue(TKey key, [MaybeNullWhen(false)] out T value)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            return entry.TryGetValue(out value);
        }

        value = default;
        return false;
    }

    public ValueTask<T> GetAsync(TKey key, CancellationToken cancellationToken = default) => GetOrAddEntry(key).GetAsync(cancellationToken);

    public ValueTask<bool> RemoveAsync(TKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!_entries.TryRemove(key, out var entry, out var count))
        {
            return new ValueTask<bool>(false);
        }

        StopRemoved(entry);
        Log.SetKeyRemoved(Logger, Name, count);
        return Coordinator is { } coordinator ? RemoveSharedAsync(coordinator, entry.CoordinationKey, cancellationToken) : new ValueTask<bool>(true);
    }

    /// <summary>Gets the entries (health check, metrics, tests).</summary>
    internal IEnumerable<CacheEntry<T>> Entries => _entries.Values;

    /// <summary>Gets the dictionary that holds the keys now (tests).</summary>
    internal object KeyDictionary => _entries.Dictionary;

    /// <summary>Gets the number of times the key table gave memory back by copying itself smaller (tests).</summary>
    internal int KeyTableShrinks => _entries.Shrinks;

    /// <summary>Gets a key's entry, or null (tests).</summary>
    internal CacheEntry<T>? Find(TKey key) => _entries.TryGetValue(key, out var entry) ? entry : null;

    MetricsReading CacheMetrics.IMetricsSource.Read(DateTimeOffset now)
    {
        double? oldest = null;
        double? soonest = null;
        var mostFailures = 0;
        var failing = 0;
        foreach (var entry in _entries.Values)
        {
            var failures = entry.ConsecutiveFailures;
            if (failures > 0)
            {
                failing++;
                mostFailures = Math.Max(mostFailures, failures);
            }

            if (entry.Current is { } snapshot)
            {
                var age = (now - snapshot.FetchedAt).TotalSeconds;
                oldest = oldest is { } o && o >= age ? o : age;
                if (snapshot.ExpiresAt is { } expiresAt)
                {
                    var left = (expiresAt - now).TotalSeconds;
                    soonest = soonest is { } s && s <= left ? s : left;
                }
            }
        }

        return new MetricsReading(oldest, soonest, mostFailures, new SetReading(Count, FetchesQueued, FetchesActive, failing));
    }

    private KeyedEntry GetOrAddEntry(TKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.TryGetValue(key, out var existing))
        {
            existing.MarkRead();
            return existing;
        }

        var now = Time.GetUtcNow(); // one clock read for the key's creation and its start
        var created = new KeyedEntry(this, key, now);
        if (IsStopped)
        {
            created.Stop(); // a set that has stopped holds no new keys: reads of this one throw CacheValueUnavailableException
            return created;
        }

        var entry = _entries.GetOrAdd(key, created);
        if (ReferenceEquals(entry, created) && _isStarted)
        {
            entry.Start(now);
        }

        entry.MarkRead();
        return entry;
    }

    /// <summary>A key's entry: the shared state machine plus the key and its last read (16 bytes beyond the entry).</summary>
    private sealed class KeyedEntry(RefreshingCacheSet<TKey, T> set, TKey key, DateTimeOffset addedAt) : CacheEntry<T>(set)
    {
        public TKey Key { get; } = key;

        private long _lastReadAtTicks = addedAt.UtcTicks; // 8 bytes, not a DateTimeOffset's 16 (issue #21)

        public DateTimeOffset LastReadAt
        {
            get => new(_lastReadAtTicks, TimeSpan.Zero);
            set => _lastReadAtTicks = value.UtcTicks;
        }

        public override string DisplayName => $"{set.Name}[{Key}]";

        public override string CoordinationKey => CoordinationKeys.Format(Key); // not stored: a string per key otherwise

        public void MarkRead() => TryGetValue(out _);
    }
}
