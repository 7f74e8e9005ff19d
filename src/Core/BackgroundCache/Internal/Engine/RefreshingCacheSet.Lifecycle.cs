using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BackgroundCache.Internal.Engine;

/// <summary>Lifecycle: start (with the initial keys and their retry), the idle sweep, stop and dispose.</summary>
internal sealed partial class RefreshingCacheSet<TKey, T>
    where TKey : notnull
{
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

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            StopAll();
            Coordinator?.Dispose();
            Metrics.Unregister(this);
        }

        base.Dispose(disposing);
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
        TracksReads = _setOptions.EvictAfterIdle is not null; // read once, like the sweep's period
        _budget = new FetchBudget(_setOptions.MaxConcurrentFetches);
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

    private void OnSweepDue(DateTimeOffset now)
    {
        if (_setOptions.EvictAfterIdle is not { } evictAfterIdle || IsStopped)
        {
            return;
        }

        var evicted = 0;
        foreach (var (key, entry) in _entries.Pairs)
        {
            if (entry.TakeTouched())
            {
                entry.LastReadAt = now;
            }
            else if (now - entry.LastReadAt >= evictAfterIdle && _entries.TryRemove(key, entry, out _))
            {
                StopRemoved(entry);
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

        _budget?.Close(); // attempts still queued for a slot run now and end at once: a hung fetch holds none of them
        Log.Stopped(Logger, Name);
    }
}
