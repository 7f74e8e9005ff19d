using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using BackgroundCache.Internal;
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
/// never allocate and never read the clock. A timer withdraws a value when it expires, so an expired value is never returned.</para>
/// </remarks>
/// <typeparam name="T">The type of the cached value.</typeparam>
public abstract class PeriodicCacheRefresher<T> : BackgroundService, IRefreshingCache<T>, CacheMetrics.IMetricsSource, ICoordinatedCache<T>
{
    // Longest single timer wait; longer delays are waited in steps (timers cap near 49 days).
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(7);
    private static readonly TimeSpan MinScheduledDelay = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly TaskCompletionSource _firstLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile CacheSnapshot<T>? _current;
    private volatile RefreshingCacheStatus _status;
    private CacheRuntime? _runtime;
    private TaskCompletionSource<T>? _pending;
    private TaskCompletionSource<T>? _inflight;
    private CacheSnapshot<T>? _pendingRejected;
    private ITimer? _retireTimer;
    private long _version;
    private int _consecutiveFailures;
    private Exception? _lastError;
    private DateTimeOffset? _lastAttemptAt;
    private DateTimeOffset? _nextRefreshAt;
    private DateTimeOffset? _blockedUntil;
    private DateTimeOffset? _startedAt;
    private DateTimeOffset? _rescheduledDue;
    private volatile bool _waiting;
    private bool _stopped;

    /// <summary>
    /// Initializes a new instance of the <see cref="PeriodicCacheRefresher{T}"/> class. The registration
    /// (<c>AddRefreshingCache&lt;T, TRefresher&gt;</c>) supplies its name, options, clock and logger.
    /// </summary>
    protected PeriodicCacheRefresher()
    {
        _status = new RefreshingCacheStatus { Name = string.Empty, State = RefreshingCacheState.Loading };
    }

    /// <summary>Gets the cache's name (empty for the unnamed cache of a type).</summary>
    public string Name => _runtime?.Name ?? string.Empty;

    /// <inheritdoc />
    public RefreshingCacheStatus Status => _status;

    /// <summary>Gets the clock the refresher schedules with.</summary>
    protected TimeProvider TimeProvider => Runtime.Time;

    TimeProvider CacheMetrics.IMetricsSource.TimeProvider => Runtime.Time;

    /// <summary>Test hook: called each time the loop starts waiting (after its timer exists).</summary>
    internal Action? OnIdle { get; set; }

    /// <summary>Gets a value indicating whether the loop is waiting for its next due time or a request.</summary>
    internal bool IsWaiting => _waiting;

    private CacheRuntime Runtime => _runtime ?? throw new InvalidOperationException(
        $"{GetType().Name} is not configured. Register it with services.AddRefreshingCache<{typeof(T).Name}, {GetType().Name}>() instead of constructing or registering it directly.");

    /// <inheritdoc />
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        var snapshot = _current;
        if (snapshot is null)
        {
            value = default;
            return false;
        }

        value = snapshot.Value;
        return true;
    }

    /// <inheritdoc />
    public ValueTask<T> GetAsync(CancellationToken cancellationToken = default)
    {
        var snapshot = _current;
        return snapshot is not null ? new ValueTask<T>(snapshot.Value) : GetSlowAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task<T> RefreshAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<T> request;
        lock (_gate)
        {
            if (_stopped)
            {
                return Task.FromException<T>(new CacheValueUnavailableException(Name, $"Cache '{Name}' has stopped.", _lastError));
            }

            request = _inflight ?? _pending ?? CreatePendingLocked();
        }

        return request.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public void Invalidate(T rejectedValue)
    {
        var snapshot = _current;
        if (snapshot is not null && !EqualityComparer<T>.Default.Equals(snapshot.Value, rejectedValue))
        {
            return; // The cache has already moved on.
        }

        lock (_gate)
        {
            if (_stopped || !ReferenceEquals(_current, snapshot) || _inflight is not null || _pending is not null)
            {
                return;
            }

            CreatePendingLocked();
            _pendingRejected = snapshot;
        }
    }

    /// <inheritdoc />
    public Task<T> InvalidateAsync(T rejectedValue, CancellationToken cancellationToken = default)
    {
        TaskCompletionSource<T> request;
        lock (_gate)
        {
            var snapshot = _current;
            if (snapshot is not null && !EqualityComparer<T>.Default.Equals(snapshot.Value, rejectedValue))
            {
                return Task.FromResult(snapshot.Value); // The cache has already moved on.
            }

            if (_stopped)
            {
                return Task.FromException<T>(new CacheValueUnavailableException(Name, $"Cache '{Name}' has stopped.", _lastError));
            }

            if (_inflight is null && _pending is null)
            {
                CreatePendingLocked();
                _pendingRejected = snapshot;
            }

            request = _inflight ?? _pending!;
        }

        return request.Task.WaitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var runtime = Runtime;
        _startedAt = runtime.Time.GetUtcNow();
        if (runtime.Coordinator is { } coordinator)
        {
            await coordinator.StartAsync(this, cancellationToken).ConfigureAwait(false);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);

        var options = runtime.Options.Get(runtime.Name);
        if (!options.WaitForInitialLoad)
        {
            return;
        }

        try
        {
            await _firstLoad.Task.WaitAsync(options.InitialLoadTimeout, runtime.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.InitialLoadTimedOut(runtime.Logger, runtime.Name, options.InitialLoadTimeout);
        }
        catch (OperationCanceledException) when (_firstLoad.Task.IsCanceled)
        {
            // Stopped before the first load.
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_runtime?.Coordinator is { } coordinator)
        {
            await coordinator.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        lock (_gate)
        {
            _retireTimer?.Dispose();
            _retireTimer = null;
        }

        _runtime?.Metrics.Unregister(this);
        _runtime?.Coordinator?.Dispose();

        base.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Fetches a new value from the upstream. Called only by the refresher's loop, one call at a time.
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
        if (_runtime?.ExpirySelector is { } selector)
        {
            return selector(value);
        }

        return value is AccessToken token ? token.ExpiresAt : null;
    }

    DateTimeOffset? ICoordinatedCache<T>.GetExpiresAt(T value) => GetExpiresAt(value);

    RefreshingCacheOptions ICoordinatedCache<T>.Options => Runtime.Options.Get(Runtime.Name);

    bool ICoordinatedCache<T>.RequestRefresh()
    {
        lock (_gate)
        {
            if (_stopped || _inflight is not null || _pending is not null)
            {
                return false;
            }

            CreatePendingLocked();
            return true;
        }
    }

    void ICoordinatedCache<T>.PublishShared(T value, DateTimeOffset? expiresAt, long version)
    {
        var now = Runtime.Time.GetUtcNow();
        if (expiresAt is { } e && e <= now)
        {
            return; // Never adopt an expired value.
        }

        // Another instance refreshed: the next refresh follows the new value's schedule.
        Publish(value, expiresAt, version, now, reschedule: true);
    }

    /// <inheritdoc />
    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var runtime = Runtime;
        var now = runtime.Time.GetUtcNow();

        // A value adopted at start (a coordinator's shared value) is not fetched again: refresh on its schedule.
        var due = _current is { } adopted ? now + ScheduleAfterSuccess(runtime.Options.Get(runtime.Name), adopted.ExpiresAt, now) : now;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var requested = await WaitUntilDueOrRequestedAsync(due, stoppingToken).ConfigureAwait(false);
                due = await RefreshOnceAsync(requested, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Host shutdown.
        }
        finally
        {
            OnStopped();
        }
    }

    internal void Initialize(CacheRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (Interlocked.CompareExchange(ref _runtime, runtime, null) is not null)
        {
            throw new InvalidOperationException("The refresher is already configured.");
        }

        _status = new RefreshingCacheStatus { Name = runtime.Name, State = RefreshingCacheState.Loading };
        runtime.Metrics.Register(this);
    }

    private TaskCompletionSource<T> CreatePendingLocked()
    {
        var request = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending = request;
        _wake.Writer.TryWrite(true);
        return request;
    }

    private async ValueTask<T> GetSlowAsync(CancellationToken cancellationToken)
    {
        var runtime = Runtime;
        while (true)
        {
            var snapshot = _current;
            if (snapshot is not null)
            {
                return snapshot.Value;
            }

            if (_stopped)
            {
                throw Unavailable($"Cache '{runtime.Name}' has stopped and holds no value.");
            }

            if (_firstLoad.Task.IsCompletedSuccessfully)
            {
                throw Unavailable($"Cache '{runtime.Name}' has no usable value: it expired while refreshes failed ({_consecutiveFailures} in a row).");
            }

            var timeout = runtime.Options.Get(runtime.Name).InitialLoadTimeout;
            var now = runtime.Time.GetUtcNow();
            var remaining = (_startedAt ?? now) + timeout - now;
            if (remaining <= TimeSpan.Zero)
            {
                throw Unavailable($"Cache '{runtime.Name}' did not load within InitialLoadTimeout ({timeout}).");
            }

            try
            {
                await _firstLoad.Task.WaitAsync(remaining, runtime.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw Unavailable($"Cache '{runtime.Name}' did not load within InitialLoadTimeout ({timeout}).");
            }
            catch (OperationCanceledException) when (_firstLoad.Task.IsCanceled && !cancellationToken.IsCancellationRequested)
            {
                throw Unavailable($"Cache '{runtime.Name}' stopped before its first value loaded.");
            }
        }
    }

    private CacheValueUnavailableException Unavailable(string message) => new(Name, message, _lastError);

    private async ValueTask<bool> WaitUntilDueOrRequestedAsync(DateTimeOffset due, CancellationToken stoppingToken)
    {
        var runtime = Runtime;
        while (true)
        {
            if (HasPendingRequest())
            {
                return true;
            }

            lock (_gate)
            {
                if (_rescheduledDue is { } rescheduled)
                {
                    due = rescheduled;
                    _rescheduledDue = null;
                }
            }

            var delay = due - runtime.Time.GetUtcNow();
            if (delay <= TimeSpan.Zero)
            {
                return false;
            }

            SetNextRefresh(due);
            using var timer = new CancellationTokenSource(delay < MaxTimerDelay ? delay : MaxTimerDelay, runtime.Time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token);
            _waiting = true;
            OnIdle?.Invoke();
            try
            {
                await _wake.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timer.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
            {
                // The timer fired; the loop re-checks whether the refresh is due.
            }
            finally
            {
                _waiting = false;
            }
        }
    }

    private bool HasPendingRequest()
    {
        lock (_gate)
        {
            _wake.Reader.TryRead(out _);
            return _pending is not null;
        }
    }

    private async Task<DateTimeOffset> RefreshOnceAsync(bool requested, CancellationToken stoppingToken)
    {
        var runtime = Runtime;
        var options = runtime.Options.Get(runtime.Name);
        var now = runtime.Time.GetUtcNow();

        TaskCompletionSource<T> request;
        CacheSnapshot<T>? rejected;
        long decidedOnVersion;
        lock (_gate)
        {
            if (!requested && _rescheduledDue is { } rescheduled && rescheduled > now)
            {
                // A shared value arrived after this refresh came due: it is no longer due.
                _rescheduledDue = null;
                return rescheduled;
            }

            decidedOnVersion = _current?.Version ?? 0;
            request = _pending ?? new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            rejected = _pending is not null && ReferenceEquals(_pendingRejected, _current) ? _pendingRejected : null;
            _pendingRejected = null;
            _pending = null;
            _inflight = request;
            _wake.Reader.TryRead(out _);

            if (requested && _blockedUntil is { } blockedUntil && now < blockedUntil && _lastError is { } blockingError)
            {
                // The upstream asked not to be called before blockedUntil (a quota): answer with its error.
                _inflight = null;
                Log.OnDemandRefreshBlocked(runtime.Logger, runtime.Name, blockedUntil);
                Fail(request, blockingError);
                return _nextRefreshAt ?? blockedUntil;
            }

            _lastAttemptAt = now;
            UpdateStatusLocked();
        }

        using var activity = BackgroundCacheDiagnostics.ActivitySource.StartActivity("BackgroundCache.Refresh", ActivityKind.Internal);
        activity?.SetTag(BackgroundCacheDiagnostics.CacheNameTag, runtime.Name);
        var started = runtime.Time.GetTimestamp();
        try
        {
            var (value, version, fromUpstream) = await FetchOnceAsync(runtime, options, requested, rejected, decidedOnVersion, stoppingToken).ConfigureAwait(false);
            var duration = runtime.Time.GetElapsedTime(started);
            now = runtime.Time.GetUtcNow();
            var expiresAt = GetExpiresAt(value);
            if (expiresAt is { } e && e <= now)
            {
                throw new InvalidOperationException($"Cache '{runtime.Name}' fetched a value that had already expired (at {e:O}).");
            }

            var failuresBefore = _consecutiveFailures;
            var snapshot = Publish(value, expiresAt, version, now);
            // "shared": a coordinated instance took the value another instance fetched (no upstream call).
            var outcome = fromUpstream ? "success" : "shared";
            runtime.Metrics.RecordAttempt(runtime.Name, outcome, duration);
            activity?.SetTag(BackgroundCacheDiagnostics.OutcomeTag, outcome);
            Log.RefreshSucceeded(runtime.Logger, runtime.Name, snapshot.Version, duration.TotalMilliseconds, expiresAt);
            if (failuresBefore > 0)
            {
                Log.Recovered(runtime.Logger, runtime.Name, failuresBefore, snapshot.Version);
            }

            ClearInflight(request);
            request.TrySetResult(value);
            return now + ScheduleAfterSuccess(options, expiresAt, now);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            ClearInflight(request);
            request.TrySetCanceled(stoppingToken);
            throw;
        }
        catch (Exception ex)
        {
            var duration = runtime.Time.GetElapsedTime(started);
            var outcome = ex is TimeoutException ? "timeout" : "failure";
            runtime.Metrics.RecordAttempt(runtime.Name, outcome, duration);
            activity?.SetTag(BackgroundCacheDiagnostics.OutcomeTag, outcome);
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);

            now = runtime.Time.GetUtcNow();
            TimeSpan delay;
            long servedVersion;
            int failures;
            lock (_gate)
            {
                failures = ++_consecutiveFailures;
                _lastError = ex;
                delay = ScheduleAfterFailure(options, ex, failures);
                _blockedUntil = ex is IRefreshRetryAdvice { RetryAfter: { } retryAfter } ? now + retryAfter : null;
                servedVersion = _current?.Version ?? 0;
                UpdateStatusLocked();
            }

            if (servedVersion > 0)
            {
                Log.RefreshFailedServingStale(runtime.Logger, ex, runtime.Name, failures, servedVersion, delay);
            }
            else
            {
                Log.RefreshFailedNoValue(runtime.Logger, ex, runtime.Name, failures, delay);
            }

            ClearInflight(request);
            Fail(request, ex);
            return now + delay;
        }
    }

    private async ValueTask<(T Value, long? Version, bool FromUpstream)> FetchOnceAsync(CacheRuntime runtime, RefreshingCacheOptions options, bool forced, CacheSnapshot<T>? rejected, long decidedOnVersion, CancellationToken stoppingToken)
    {
        // The timeout's timer exists before the fetch starts, so a test clock can end a hanging fetch.
        using var timeout = new CancellationTokenSource(options.FetchTimeout, runtime.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
        try
        {
            Func<CancellationToken, ValueTask<T>> fetch = rejected is null ? FetchAsync : ct => FetchReplacementAsync(rejected.Value, ct);
            if (runtime.Coordinator is { } coordinator)
            {
                var result = await coordinator.RefreshAsync(fetch, forced, rejected is null ? default : rejected.Value, decidedOnVersion, linked.Token)
                    .AsTask().WaitAsync(linked.Token).ConfigureAwait(false);
                return (result.Value, result.Version, result.FromUpstream);
            }

            // WaitAsync abandons a fetch that ignores its token.
            var value = await fetch(linked.Token).AsTask().WaitAsync(linked.Token).ConfigureAwait(false);
            return (value, null, true);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The fetch for cache '{runtime.Name}' did not complete within FetchTimeout ({options.FetchTimeout}).", ex);
        }
    }

    private CacheSnapshot<T> Publish(T value, DateTimeOffset? expiresAt, long? version, DateTimeOffset now, bool reschedule = false)
    {
        var runtime = Runtime;
        var options = runtime.Options.Get(runtime.Name);
        CacheSnapshot<T> snapshot;
        DateTimeOffset? retireAt;
        lock (_gate)
        {
            if (version is { } same && _current is { } existing && existing.Version == same)
            {
                // The same shared version again (a notification and a refresh both delivered it).
                _consecutiveFailures = 0;
                _lastError = null;
                _blockedUntil = null;
                UpdateStatusLocked();
                return existing;
            }

            _version = version is { } v && v > _version ? v : _version + 1;
            snapshot = new CacheSnapshot<T>(value, now, expiresAt, _version);
            _current = snapshot;
            _consecutiveFailures = 0;
            _lastError = null;
            _blockedUntil = null;

            retireAt = expiresAt;
            if (options.MaxStaleness is { } staleness && expiresAt is null)
            {
                retireAt = now + staleness;
            }

            _retireTimer?.Dispose();
            _retireTimer = retireAt is { } at ? CreateRetireTimer(snapshot, at, now) : null;
            if (reschedule)
            {
                // Set with the value, atomically: a scheduled refresh that has not started yet sees it and stands down.
                _rescheduledDue = now + ScheduleAfterSuccess(options, expiresAt, now);
                _wake.Writer.TryWrite(true);
            }

            UpdateStatusLocked();
        }

        _firstLoad.TrySetResult();
        foreach (var observer in runtime.Observers)
        {
            try
            {
                observer.OnPublished(snapshot, retireAt);
            }
            catch (Exception ex)
            {
                Log.ObserverFailed(runtime.Logger, ex, runtime.Name, snapshot.Version);
            }
        }

        return snapshot;
    }

    private ITimer CreateRetireTimer(CacheSnapshot<T> snapshot, DateTimeOffset retireAt, DateTimeOffset now)
    {
        var due = retireAt - now;
        return Runtime.Time.CreateTimer(_ => Retire(snapshot, retireAt), null, due < MaxTimerDelay ? due : MaxTimerDelay, Timeout.InfiniteTimeSpan);
    }

    private void Retire(CacheSnapshot<T> snapshot, DateTimeOffset retireAt)
    {
        var runtime = Runtime;
        var now = runtime.Time.GetUtcNow();
        lock (_gate)
        {
            if (!ReferenceEquals(_current, snapshot))
            {
                return;
            }

            if (now < retireAt)
            {
                // A long expiry is waited in steps.
                _retireTimer?.Dispose();
                _retireTimer = CreateRetireTimer(snapshot, retireAt, now);
                return;
            }

            _current = null;
            UpdateStatusLocked();
        }

        Log.ValueExpired(runtime.Logger, runtime.Name, snapshot.Version, retireAt);
        foreach (var observer in runtime.Observers)
        {
            try
            {
                observer.OnRetired(snapshot);
            }
            catch (Exception ex)
            {
                Log.ObserverFailed(runtime.Logger, ex, runtime.Name, snapshot.Version);
            }
        }
    }

    private static TimeSpan ScheduleAfterSuccess(RefreshingCacheOptions options, DateTimeOffset? expiresAt, DateTimeOffset now)
    {
        TimeSpan delay;
        if (expiresAt is { } e)
        {
            // Refresh RefreshBeforeExpiry ahead, but no earlier than half-way through a short life.
            var life = e - now;
            var ahead = life - options.RefreshBeforeExpiry;
            var half = life / 2;
            delay = ahead > half ? ahead : half;
        }
        else
        {
            delay = options.RefreshInterval;
        }

        if (options.Jitter > TimeSpan.Zero)
        {
            var maxJitter = options.Jitter < delay / 2 ? options.Jitter : delay / 2;
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
            delay -= maxJitter * Random.Shared.NextDouble();
#pragma warning restore CA5394
        }

        return delay > MinScheduledDelay ? delay : MinScheduledDelay;
    }

    /// <summary>
    /// Exponential backoff from RetryInitialDelay to RetryMaxDelay, jittered between half and all of the nominal delay;
    /// a permanent failure waits RetryMaxDelay; a RetryAfter hint is a floor.
    /// </summary>
    internal static TimeSpan ScheduleAfterFailure(RefreshingCacheOptions options, Exception error, int consecutiveFailures)
    {
        var advice = error as IRefreshRetryAdvice;
        TimeSpan delay;
        if (advice is { IsTransient: false })
        {
            delay = options.RetryMaxDelay;
        }
        else
        {
            var exponent = Math.Min(consecutiveFailures - 1, 30);
            var nominalTicks = Math.Min(options.RetryInitialDelay.Ticks * Math.Pow(2, exponent), options.RetryMaxDelay.Ticks);
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
            delay = TimeSpan.FromTicks((long)(nominalTicks * (0.5 + (0.5 * Random.Shared.NextDouble()))));
#pragma warning restore CA5394
        }

        if (advice?.RetryAfter is { } retryAfter && retryAfter > delay)
        {
            delay = retryAfter;
        }

        return delay;
    }

    private void ClearInflight(TaskCompletionSource<T> request)
    {
        lock (_gate)
        {
            if (ReferenceEquals(_inflight, request))
            {
                _inflight = null;
            }
        }
    }

    private static void Fail(TaskCompletionSource<T> request, Exception error)
    {
        if (request.TrySetException(error))
        {
            // Nobody may be waiting (an Invalidate); mark the exception observed so it is not reported as unobserved.
            _ = request.Task.Exception;
        }
    }

    private void SetNextRefresh(DateTimeOffset due)
    {
        lock (_gate)
        {
            if (_nextRefreshAt == due)
            {
                return;
            }

            _nextRefreshAt = due;
            UpdateStatusLocked();
        }

        if (Runtime.Logger.IsEnabled(LogLevel.Trace))
        {
            Log.RefreshScheduled(Runtime.Logger, Name, due);
        }
    }

    private void OnStopped()
    {
        TaskCompletionSource<T>? pending;
        TaskCompletionSource<T>? inflight;
        lock (_gate)
        {
            _stopped = true;
            pending = _pending;
            inflight = _inflight;
            _pending = null;
            _inflight = null;
            _nextRefreshAt = null;
            UpdateStatusLocked();
        }

        pending?.TrySetCanceled();
        inflight?.TrySetCanceled();
        _firstLoad.TrySetCanceled();
        if (_runtime is { } runtime)
        {
            Log.Stopped(runtime.Logger, runtime.Name);
        }
    }

    private void UpdateStatusLocked()
    {
        var current = _current;
        RefreshingCacheState state;
        if (_stopped)
        {
            state = RefreshingCacheState.Stopped;
        }
        else if (current is null)
        {
            state = _consecutiveFailures > 0 || _version > 0 ? RefreshingCacheState.Unavailable : RefreshingCacheState.Loading;
        }
        else
        {
            state = _consecutiveFailures > 0 ? RefreshingCacheState.Stale : RefreshingCacheState.Fresh;
        }

        _status = new RefreshingCacheStatus
        {
            Name = _runtime?.Name ?? string.Empty,
            State = state,
            Version = current?.Version ?? 0,
            LastRefreshedAt = current?.FetchedAt,
            ExpiresAt = current?.ExpiresAt,
            NextRefreshAt = _nextRefreshAt,
            LastAttemptAt = _lastAttemptAt,
            ConsecutiveFailures = _consecutiveFailures,
            LastError = _lastError,
        };
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
}
