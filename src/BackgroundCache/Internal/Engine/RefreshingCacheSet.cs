using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Threading.RateLimiting;
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

    private readonly ConcurrentDictionary<TKey, KeyedEntry> _entries = new();
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
    private ConcurrencyLimiter? _budget;
    private Task? _initialKeysRetry;
    private Task? _started;
    private volatile bool _isStarted;
    private int _count;

    // Whole-set backoff, under _outageGate.
    private int _streakEpoch = 1;
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

    public int Count => Volatile.Read(ref _count);

    public IReadOnlyCollection<TKey> Keys => _entries.Keys.ToArray();

    public override bool SpreadRefreshes => true;

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
    public int FetchesQueued => (int)(_budget?.GetStatistics()?.CurrentQueuedCount ?? 0);

    /// <summary>Gets the number of fetches that hold a slot in the budget (calls in flight).</summary>
    public int FetchesActive => _budget is { } budget ? _setOptions.MaxConcurrentFetches - (int)(budget.GetStatistics()?.CurrentAvailablePermits ?? 0) : 0;

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
        if (!_entries.TryRemove(key, out var entry))
        {
            return new ValueTask<bool>(false);
        }

        var count = Interlocked.Decrement(ref _count);
        entry.Stop();
        Log.SetKeyRemoved(Logger, Name, count);
        return Coordinator is { } coordinator ? RemoveSharedAsync(coordinator, entry.CoordinationKey, cancellationToken) : new ValueTask<bool>(true);
    }

    /// <summary>Gets the entries (health check, metrics, tests).</summary>
    internal IEnumerable<CacheEntry<T>> Entries => _entries.Values;

    /// <summary>Gets a key's entry, or null (tests).</summary>
    internal CacheEntry<T>? Find(TKey key) => _entries.TryGetValue(key, out var entry) ? entry : null;

    public override async ValueTask<T> FetchAsync(CacheEntry<T> entry, CacheSnapshot<T>? rejected, CancellationToken cancellationToken)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            return await _fetch(scope.ServiceProvider, ((KeyedEntry)entry).Key, cancellationToken).ConfigureAwait(false);
        }
    }

    public override async ValueTask<IDisposable?> AcquireFetchSlotAsync(CancellationToken cancellationToken)
    {
        var budget = _budget ?? throw new InvalidOperationException($"Cache set '{Name}' has not started.");
        var lease = await budget.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            throw new InvalidOperationException($"Cache set '{Name}' could not take a slot in its fetch budget.");
        }

        return lease;
    }

    public override bool TryAdmit(CacheEntry<T> entry)
    {
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

        List<KeyedEntry>? release = null;
        var probes = 0;
        lock (_outageGate)
        {
            switch (outcome)
            {
                case AttemptOutcome.Success:
                    _streakEpoch++;
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
                    if (keyed.StreakEpoch != _streakEpoch)
                    {
                        keyed.StreakEpoch = _streakEpoch;
                        _streakKeys++;
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

    Task IHostedLifecycleService.StartingAsync(CancellationToken cancellationToken) => EnsureStartedAsync(cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
        var options = Options;
        if (!options.WaitForInitialLoad)
        {
            return;
        }

        var loads = _entries.Values.Select(e => e.WaitForFirstLoadAsync(options.InitialLoadTimeout, cancellationToken)).ToArray();
        var loaded = await Task.WhenAll(loads).ConfigureAwait(false);
        if (loaded.Contains(false))
        {
            Log.InitialLoadTimedOut(Logger, Name, options.InitialLoadTimeout);
        }
    }

    Task IHostedLifecycleService.StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        StopAll();
        await WaitDrainedAsync(cancellationToken).ConfigureAwait(false);
        if (_initialKeysRetry is { } retry)
        {
            await retry.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (Coordinator is { } coordinator)
        {
            await coordinator.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    Task IHostedLifecycleService.StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

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

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            StopAll();
            Coordinator?.Dispose();
            Metrics.Unregister(this);
            _budget?.Dispose();
        }

        base.Dispose(disposing);
    }

    private KeyedEntry GetOrAddEntry(TKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_entries.TryGetValue(key, out var existing))
        {
            existing.MarkRead();
            return existing;
        }

        var created = new KeyedEntry(this, key, Time.GetUtcNow());
        if (IsStopped)
        {
            created.Stop(); // a set that has stopped holds no new keys: reads of this one throw CacheValueUnavailableException
            return created;
        }

        var entry = _entries.GetOrAdd(key, created);
        if (ReferenceEquals(entry, created))
        {
            Interlocked.Increment(ref _count);
            if (_isStarted)
            {
                entry.Start(Time.GetUtcNow());
            }
        }

        entry.MarkRead();
        return entry;
    }

    private Task EnsureStartedAsync(CancellationToken cancellationToken)
    {
        lock (_outageGate)
        {
            return _started ??= StartCoreAsync(cancellationToken);
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        ValidateOptions();
        _setOptions = _setOptionsMonitor.Get(Name);
        _budget = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = _setOptions.MaxConcurrentFetches,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        if (Coordinator is { } coordinator)
        {
            await coordinator.StartAsync(new CoordinatedValues(this), cancellationToken).ConfigureAwait(false);
        }

        if (_registration.InitialKeys is { } initialKeys)
        {
            try
            {
                AddInitialKeys(await LoadInitialKeysAsync(initialKeys, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var delay = RefreshPolicy.AfterFailure(Options, ex, 1);
                Log.SetInitialKeysFailed(Logger, ex, Name, 1, delay);
                _initialKeysRetry = RetryInitialKeysAsync(initialKeys, delay);
            }
        }

        var now = Time.GetUtcNow();
        _isStarted = true;
        foreach (var entry in _entries.Values)
        {
            entry.Start(now);
        }

        if (_setOptions.EvictAfterIdle is { } evictAfterIdle)
        {
            _sweep.ScheduleAt(now + (evictAfterIdle / 2));
        }
    }

    private async Task<IEnumerable<TKey>> LoadInitialKeysAsync(Func<IServiceProvider, CancellationToken, ValueTask<IEnumerable<TKey>>> initialKeys, CancellationToken cancellationToken)
    {
        var scope = _scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            return await initialKeys(scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private void AddInitialKeys(IEnumerable<TKey> keys)
    {
        var before = Count;
        foreach (var key in keys)
        {
            GetOrAddEntry(key);
        }

        Log.SetInitialKeysLoaded(Logger, Name, Count - before);
    }

    private async Task RetryInitialKeysAsync(Func<IServiceProvider, CancellationToken, ValueTask<IEnumerable<TKey>>> initialKeys, TimeSpan delay)
    {
        for (var attempt = 2; !Stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                await Task.Delay(delay, Time, Stopping).ConfigureAwait(false);
                AddInitialKeys(await LoadInitialKeysAsync(initialKeys, Stopping).ConfigureAwait(false));
                return;
            }
            catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                delay = RefreshPolicy.AfterFailure(Options, ex, attempt);
                Log.SetInitialKeysFailed(Logger, ex, Name, attempt, delay);
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

    private void OnSweepDue(DateTimeOffset now)
    {
        if (_setOptions.EvictAfterIdle is not { } evictAfterIdle || IsStopped)
        {
            return;
        }

        var evicted = 0;
        foreach (var (key, entry) in _entries)
        {
            if (entry.TakeTouched())
            {
                entry.LastReadAt = now;
            }
            else if (now - entry.LastReadAt >= evictAfterIdle && _entries.TryRemove(new KeyValuePair<TKey, KeyedEntry>(key, entry)))
            {
                Interlocked.Decrement(ref _count);
                entry.Stop();
                evicted++;
            }
        }

        if (evicted > 0)
        {
            Log.SetKeysEvicted(Logger, Name, evicted, evictAfterIdle, Count);
        }

        _sweep.ScheduleAt(now + (evictAfterIdle / 2));
    }

    private void StopAll()
    {
        if (IsStopped)
        {
            return;
        }

        BeginStop();
        foreach (var entry in _entries.Values)
        {
            entry.Stop();
        }

        Log.Stopped(Logger, Name);
    }

    /// <summary>A key's entry: the shared state machine plus the key, its read mark and its place in an outage streak.</summary>
    private sealed class KeyedEntry(RefreshingCacheSet<TKey, T> set, TKey key, DateTimeOffset addedAt) : CacheEntry<T>(set)
    {
        public TKey Key { get; } = key;

        public int StreakEpoch { get; set; }

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
