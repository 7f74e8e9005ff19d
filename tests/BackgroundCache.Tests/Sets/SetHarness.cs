using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Sets;

/// <summary>
/// A real host with a <see cref="FakeTimeProvider"/> and one cache set. Time moves only through <see cref="AdvanceAsync"/>,
/// which steps from one scheduled wake to the next and waits, after each step, until no fetch attempt runs: attempts start
/// inside <c>Advance</c> (the set's timer) or inside the call that requests them, so the wait is deterministic.
/// </summary>
internal sealed class SetHarness<TKey, T> : IAsyncDisposable
    where TKey : notnull
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private SetHarness(IHost host, FakeTimeProvider time, string name)
    {
        Host = host;
        Time = time;
        Set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<TKey, T>>(name);
        Engine = host.Services.GetRequiredKeyedService<RefreshingCacheSet<TKey, T>>(name);
    }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public IRefreshingCacheSet<TKey, T> Set { get; }

    public RefreshingCacheSet<TKey, T> Engine { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static async Task<SetHarness<TKey, T>> StartAsync(
        Func<IServiceProvider, TKey, CancellationToken, ValueTask<T>> fetch,
        Action<RefreshingCacheOptions>? configure = null,
        Action<RefreshingCacheSetOptions>? configureSet = null,
        Action<RefreshingCacheSetBuilder<TKey, T>>? build = null,
        string name = "set",
        Action<IServiceCollection>? services = null,
        bool start = true)
    {
        var builder = CacheHarness<T>.CreateBuilder();
        services?.Invoke(builder.Services);
        var set = builder.Services.AddRefreshingCacheSet(name, fetch, configureSet);
        builder.Services.Configure<RefreshingCacheOptions>(name, o =>
        {
            o.Jitter = TimeSpan.Zero;
            configure?.Invoke(o);
        });
        build?.Invoke(set);
        var host = builder.Build();
        var harness = new SetHarness<TKey, T>(host, (FakeTimeProvider)host.Services.GetRequiredService<TimeProvider>(), name);
        if (start)
        {
            await host.StartAsync();
            await harness.QuiesceAsync();
        }

        return harness;
    }

    /// <summary>Waits until no fetch attempt runs.</summary>
    public Task QuiesceAsync() => Engine.WhenQuiescentAsync().WaitAsync(Guard);

    /// <summary>Advances the clock by <paramref name="step"/>, waking every due time on the way and letting its attempts finish.</summary>
    public async Task AdvanceAsync(TimeSpan step, Action? atEachWake = null)
    {
        var target = Time.GetUtcNow() + step;
        await QuiesceAsync();
        while (Engine.Scheduler.NextDue is { } next && next <= target)
        {
            if (next > Time.GetUtcNow())
            {
                Time.Advance(next - Time.GetUtcNow());
            }
            else
            {
                Time.Advance(TimeSpan.Zero);
            }

            await QuiesceAsync();
            atEachWake?.Invoke();
        }

        if (target > Time.GetUtcNow())
        {
            Time.Advance(target - Time.GetUtcNow());
        }

        await QuiesceAsync();
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
    }
}
