using System.Diagnostics.CodeAnalysis;
using BackgroundCache.Coordination;
using BackgroundCache.Internal;
using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache;

/// <summary>
/// A <see cref="BackgroundService"/> that loads a value at start, refreshes it on a schedule (a fixed interval, or ahead of
/// the value's expiry), retries failures with backoff and jitter, keeps serving the last good value, and never stops the host.
/// </summary>
/// <remarks>
/// <para>Subclasses implement <see cref="FetchAsync(CancellationToken)"/>; register them with
/// <c>services.AddRefreshingCache&lt;T, TRefresher&gt;()</c>, which supplies the name, options, clock and logger.</para>
/// <para>Reads (<see cref="TryGetValue"/>, and <see cref="GetAsync"/> once loaded) are one volatile read: they never block,
/// never allocate and never read the clock. The cache's one timer withdraws a value when it expires, so an expired value
/// is never returned.</para>
/// <para>The refresher runs on the same engine as the keys of an <see cref="IRefreshingCacheSet{TKey, T}"/>: one entry
/// state machine decides schedule, retry and expiry for both. Its first fetch starts when the host is starting
/// (<see cref="IHostedLifecycleService.StartingAsync"/>), so many caches with
/// <see cref="RefreshingCacheOptions.WaitForInitialLoad"/> load together, not one after another.</para>
/// </remarks>
/// <typeparam name="T">The type of the cached value.</typeparam>
public abstract class PeriodicCacheRefresher<T> : BackgroundService, IRefreshingCache<T>, IHostedLifecycleService, CacheMetrics.IMetricsSource
{
    private SingleEngine? _engine;
    private CacheEntry<T>? _entry;
    private Task? _started;
    private TaskCompletionSource? _running;

    /// <summary>
    /// Initializes a new instance of the <see cref="PeriodicCacheRefresher{T}"/> class. The registration
    /// (<c>AddRefreshingCache&lt;T, TRefresher&gt;</c>) supplies its name, options, clock and logger.
    /// </summary>
    protected PeriodicCacheRefresher()
    {
    }

    /// <summary>Gets the cache's name (empty for the unnamed cache of a type).</summary>
    public string Name => _engine?.Name ?? string.Empty;

    /// <inheritdoc />
    public RefreshingCacheStatus Status => _entry?.Status ?? new RefreshingCacheStatus { Name = string.Empty, State = RefreshingCacheState.Loading };

    /// <summary>Gets the clock the refresher schedules with.</summary>
    protected TimeProvider TimeProvider => Engine.Time;

    TimeProvider CacheMetrics.IMetricsSource.TimeProvider => Engine.Time;

    /// <summary>Test hook: called each time the refresher becomes idle with its next refresh scheduled (after each attempt).</summary>
    internal Action? OnIdle { get; set; }

    /// <summary>Gets a value indicating whether the refresher is waiting for its next due time or a request.</summary>
    internal bool IsWaiting => _entry?.IsWaiting ?? false;

    private SingleEngine Engine => _engine ?? throw new InvalidOperationException(
        $"{GetType().Name} is not configured. Register it with services.AddRefreshingCache<{typeof(T).Name}, {GetType().Name}>() instead of constructing or registering it directly.");

    private CacheEntry<T> Entry => _entry ?? throw new InvalidOperationException(
        $"{GetType().Name} is not configured. Register it with services.AddRefreshingCache<{typeof(T).Name}, {GetType().Name}>() instead of constructing or registering it directly.");

    /// <inheritdoc />
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        var entry = _entry;
        if (entry is null)
        {
            value = default;
            return false;
        }

        return entry.TryGetValue(out value);
    }

    /// <inheritdoc />
    public ValueTask<T> GetAsync(CancellationToken cancellationToken = default) => Entry.GetAsync(cancellationToken);

    /// <inheritdoc />
    public Task<T> RefreshAsync(CancellationToken cancellationToken = default) => Entry.RefreshAsync(cancellationToken);

    /// <inheritdoc />
    public void Invalidate(T rejectedValue) => Entry.Invalidate(rejectedValue);

    /// <inheritdoc />
    public Task<T> InvalidateAsync(T rejectedValue, CancellationToken cancellationToken = default) => Entry.InvalidateAsync(rejectedValue, cancellationToken);

    /// <summary>Starts the first fetch while the host is starting, before any hosted service's <c>StartAsync</c>.</summary>
    /// <param name="cancellationToken">Cancels start.</param>
    /// <returns>A task that completes when the first fetch has been started.</returns>
    Task IHostedLifecycleService.StartingAsync(CancellationToken cancellationToken) => EnsureStartedAsync(cancellationToken);

    Task IHostedLifecycleService.StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task IHostedLifecycleService.StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Gets the task that runs while the cache runs: from <see cref="StartAsync"/> until <see cref="StopAsync"/> or <see cref="Dispose"/>.</summary>
    public override Task? ExecuteTask => _running?.Task;

    /// <inheritdoc />
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);

        // Not the base class's start, which runs ExecuteAsync through Task.Run on a token source linked to the host's:
        // a thread-pool item, a token source and a registration on the host's token per cache, for a task that only marks
        // the cache as running (10,000s of single caches start one after the other, issue #21).
        if (_running is null)
        {
            _ = ExecuteAsync(CancellationToken.None);
        }

        var engine = Engine;
        var options = engine.Options;
        if (options.WaitForInitialLoad && !await Entry.WaitForFirstLoadAsync(options.InitialLoadTimeout, cancellationToken).ConfigureAwait(false))
        {
            Log.InitialLoadTimedOut(engine.Logger, engine.Name, options.InitialLoadTimeout);
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Ends the running task (the base class's StopAsync has nothing to stop: its start was not called).
        _running?.TrySetResult();
        if (_engine is not { } engine)
        {
            return;
        }

        StopEngine(engine);
        await engine.WaitDrainedAsync(cancellationToken).ConfigureAwait(false);
        if (engine.Coordinator is { } coordinator)
        {
            await coordinator.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        if (_engine is { } engine)
        {
            StopEngine(engine);
            engine.Metrics.Unregister(this);
            engine.Coordinator?.Dispose();
            engine.Dispose();
        }

        _running?.TrySetResult(); // disposed without a stop: the running task ends all the same
        base.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Fetches a new value from the upstream. Called by the refresher only, one call at a time: a fetch that outlives
    /// <see cref="RefreshingCacheOptions.FetchTimeout"/> is abandoned (the attempt fails), and the next attempt waits for it
    /// to end, so two calls never overlap.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when <see cref="RefreshingCacheOptions.FetchTimeout"/> passes or the host stops.</param>
    /// <returns>The new value.</returns>
    protected abstract ValueTask<T> FetchAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Fetches a value to replace <paramref name="rejectedValue"/>, after <see cref="Invalidate(T)"/> reported that the
    /// upstream refused it. The default calls <see cref="FetchAsync(CancellationToken)"/>.
    /// </summary>
    /// <param name="rejectedValue">The value that was refused; still the current value.</param>
    /// <param name="cancellationToken">Cancelled when <see cref="RefreshingCacheOptions.FetchTimeout"/> passes or the host stops.</param>
    /// <returns>The new value.</returns>
    protected virtual ValueTask<T> FetchReplacementAsync(T rejectedValue, CancellationToken cancellationToken) => FetchAsync(cancellationToken);

    /// <summary>
    /// Gets when <paramref name="value"/> expires, which drives the schedule (refresh
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead) and withdraws the value at that moment.
    /// The default reads <see cref="AccessToken.ExpiresAt"/>, or the registration's expiry selector.
    /// </summary>
    /// <param name="value">A freshly fetched value.</param>
    /// <returns>The expiry, or <see langword="null"/> when the value does not expire (it is refreshed every
    /// <see cref="RefreshingCacheOptions.RefreshInterval"/>).</returns>
    protected virtual DateTimeOffset? GetExpiresAt(T value)
    {
        if (_engine?.ExpirySelector is { } selector)
        {
            return selector(value);
        }

        return value is AccessToken token ? token.ExpiresAt : null;
    }

    MetricsReading CacheMetrics.IMetricsSource.Read(DateTimeOffset now) => MetricsReading.FromStatus(Status, now);

    /// <inheritdoc />
    protected sealed override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The engine's timer and fetches do the work; this only marks the service as running. StartAsync calls it with no
        // token (nothing registered); StopAsync or Dispose ends the task, and so would a token that can be cancelled.
        // Continuations run inline: the only one is the host's wait on ExecuteTask, which then ends at once.
        var running = new TaskCompletionSource();
        _running = running;
        stoppingToken.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), running);
        return running.Task;
    }

    internal void Initialize(CacheRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var engine = new SingleEngine(this, runtime);
        if (Interlocked.CompareExchange(ref _engine, engine, null) is not null)
        {
            engine.Dispose();
            throw new InvalidOperationException("The refresher is already configured.");
        }

        _entry = new CacheEntry<T>(engine);
        runtime.Metrics.Register(this);
    }

    private Task EnsureStartedAsync(CancellationToken cancellationToken)
    {
        var engine = Engine;
        lock (engine)
        {
            return _started ??= StartCoreAsync(engine, cancellationToken);
        }
    }

    private async Task StartCoreAsync(SingleEngine engine, CancellationToken cancellationToken)
    {
        engine.ValidateOptions();
        if (engine.Coordinator is { } coordinator)
        {
            await coordinator.StartAsync(new CoordinatedValues(this), cancellationToken).ConfigureAwait(false);
        }

        Entry.Start(engine.Time.GetUtcNow());
    }

    private void StopEngine(SingleEngine engine)
    {
        if (engine.IsStopped)
        {
            return;
        }

        engine.BeginStop();
        _entry?.Stop();
        Log.Stopped(engine.Logger, engine.Name);
    }

    /// <summary>What the registration supplies to a refresher.</summary>
    internal sealed class CacheRuntime(
        string name,
        IOptionsMonitor<RefreshingCacheOptions> options,
        TimeProvider time,
        ILogger logger,
        CacheMetrics metrics,
        Func<T, DateTimeOffset?>? expirySelector,
        IReadOnlyList<ICacheValueObserver<T>> observers,
        ICacheCoordinator<T>? coordinator)
    {
        public string Name { get; } = name;

        public IOptionsMonitor<RefreshingCacheOptions> Options { get; } = options;

        public TimeProvider Time { get; } = time;

        public ILogger Logger { get; } = logger;

        public CacheMetrics Metrics { get; } = metrics;

        public Func<T, DateTimeOffset?>? ExpirySelector { get; } = expirySelector;

        public IReadOnlyList<ICacheValueObserver<T>> Observers { get; } = observers;

        public ICacheCoordinator<T>? Coordinator { get; } = coordinator;
    }

    /// <summary>The cache as its coordinator sees it: another object, so a reader holding the refresher cannot reach it.</summary>
    private sealed class CoordinatedValues(PeriodicCacheRefresher<T> owner) : ICoordinatedValues<T>
    {
        public string Name => owner.Name;

        public RefreshingCacheOptions Options => owner.Engine.Options;

        public IEnumerable<ICoordinatedEntry<T>> Entries => [owner.Entry.Coordination];

        public DateTimeOffset? GetExpiresAt(T value) => owner.GetExpiresAt(value);

        // A single cache has one value, key "", which is never removed.
        public ICoordinatedEntry<T>? Find(string key) => key.Length == 0 ? owner.Entry.Coordination : null;

        public ICoordinatedEntry<T>? GetOrAdd(string key) => Find(key);

        public void RemoveLocal(string key)
        {
        }
    }

    /// <summary>The engine of one value: fetches through the refresher's virtual methods.</summary>
    private sealed class SingleEngine : CacheEngine<T>
    {
        private readonly PeriodicCacheRefresher<T> _owner;

        public SingleEngine(PeriodicCacheRefresher<T> owner, CacheRuntime runtime)
            : base(runtime.Name, runtime.Options, runtime.Time, runtime.Logger, runtime.Metrics, runtime.ExpirySelector, runtime.Observers)
        {
            _owner = owner;
            Coordinator = runtime.Coordinator;
            TracksReads = false; // a single value is never evicted for being idle
        }

        public override ICacheCoordinator<T>? Coordinator { get; }

        public override ValueTask<T> FetchAsync(CacheEntry<T> entry, CacheSnapshot<T>? rejected, CancellationToken cancellationToken, out IServiceScope? scope)
        {
            scope = null;
            return rejected is null ? _owner.FetchAsync(cancellationToken) : _owner.FetchReplacementAsync(rejected.Value, cancellationToken);
        }

        public override DateTimeOffset? GetExpiresAt(T value) => _owner.GetExpiresAt(value);

        public override TokenRenewal? Renewal => (_owner as ITokenRenewalRule)?.Renewal;

        // The refresher's test hook, called here rather than through a delegate per engine (bytes per single cache).
        public override void NotifyIdle(CacheEntry<T> entry) => _owner.OnIdle?.Invoke();
    }
}
