using BackgroundCache.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests;

/// <summary>
/// A real host with a <see cref="FakeTimeProvider"/>, fake logging and one cache, plus a signal that tells when the
/// refresher's loop waits (its timer exists), so tests advance time only when something is there to fire.
/// </summary>
internal sealed class CacheHarness<T> : IAsyncDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<T> _probe;

    private CacheHarness(IHost host, FakeTimeProvider time, string name)
    {
        Host = host;
        Time = time;
        Refresher = host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<T>>(name);
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<T>>(name);
        _probe = new RefresherProbe<T>(Refresher, time);
    }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public PeriodicCacheRefresher<T> Refresher { get; }

    public IRefreshingCache<T> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static HostApplicationBuilder CreateBuilder(FakeTimeProvider? time = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time ?? new FakeTimeProvider());
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        return builder;
    }

    public static async Task<CacheHarness<T>> StartAsync(
        Func<IServiceProvider, CancellationToken, ValueTask<T>> fetch,
        Action<RefreshingCacheOptions>? configure = null,
        Action<RefreshingCacheBuilder<T>>? build = null,
        string name = "test",
        Action<IServiceCollection>? services = null,
        bool start = true)
    {
        var builder = CreateBuilder();
        services?.Invoke(builder.Services);
        var cache = builder.Services.AddRefreshingCache(name, fetch, o =>
        {
            o.Jitter = TimeSpan.Zero;
            configure?.Invoke(o);
        });
        build?.Invoke(cache);
        var host = builder.Build();
        var harness = new CacheHarness<T>(host, (FakeTimeProvider)host.Services.GetRequiredService<TimeProvider>(), name);
        if (start)
        {
            await host.StartAsync();
        }

        return harness;
    }

    /// <summary>Waits until the loop waits for its next due time (after an attempt, or at start).</summary>
    public Task WaitIdleAsync() => _probe.WaitIdleAsync();

    /// <summary>Advances the clock to the next scheduled refresh and waits until the loop waits again.</summary>
    public Task<TimeSpan> AdvanceToNextRefreshAsync() => _probe.AdvanceToNextRefreshAsync();

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
        _probe.Dispose();
    }
}

/// <summary>
/// A hand-written upstream: counts calls and plays a script (values, failures, hangs).
/// </summary>
internal sealed class FakeUpstream<T>
{
    private readonly Queue<Func<CancellationToken, Task<T>>> _script = new();
    private readonly Lock _gate = new();
    private Func<CancellationToken, Task<T>> _fallback;
    private int _calls;

    public FakeUpstream(Func<int, T> values) => _fallback = _ => Task.FromResult(values(_calls));

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Completed with the call number each time a fetch starts.</summary>
    public event Action<int>? Started;

    public FakeUpstream<T> ThenAlways(Func<CancellationToken, Task<T>> behaviour)
    {
        lock (_gate)
        {
            _fallback = behaviour;
        }

        return this;
    }

    public FakeUpstream<T> ThenOnce(Func<CancellationToken, Task<T>> behaviour)
    {
        lock (_gate)
        {
            _script.Enqueue(behaviour);
        }

        return this;
    }

    public ValueTask<T> FetchAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        Func<CancellationToken, Task<T>> behaviour;
        int call;
        lock (_gate)
        {
            call = ++_calls;
            behaviour = _script.Count > 0 ? _script.Dequeue() : _fallback;
        }

        Started?.Invoke(call);
        return new ValueTask<T>(behaviour(cancellationToken));
    }

    public static Task<T> Fail(string message) => Task.FromException<T>(new InvalidOperationException(message));

    /// <summary>A fetch that never completes and ignores cancellation.</summary>
    public static Task<T> Hang() => new TaskCompletionSource<T>().Task;
}
