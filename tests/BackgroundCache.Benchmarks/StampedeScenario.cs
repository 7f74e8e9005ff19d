using System.Diagnostics;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ZiggyCreatures.Caching.Fusion;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// 1,000 concurrent readers on a cold value and at expiry, factory 50 ms: factory calls and how long readers wait.
/// Real time (the factory really takes 50 ms); each peer set up with its defaults.
/// </summary>
public static class StampedeScenario
{
    private static readonly int[] ReaderCounts = [10, 100, 1000];
    private static readonly TimeSpan FactoryTime = TimeSpan.FromMilliseconds(50);

    private static int Readers { get; set; } = 1000;

    public static async Task RunAsync()
    {
        Console.WriteLine("## Stampede: concurrent readers, factory 50 ms");
        Console.WriteLine();
        Console.WriteLine("| cache | readers | moment | factory calls | reader wait p50 | reader wait max |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|");
        foreach (var readers in ReaderCounts)
        {
            Readers = readers;
            foreach (var (name, run) in Peers())
            {
                var cold = await run(false);
                Print(name, "cold (first load)", cold);
                var expiry = await run(true);
                Print(name, "at expiry / scheduled refresh", expiry);
            }
        }

        Console.WriteLine();
    }

    private static void Print(string name, string moment, (int Calls, TimeSpan[] Waits) result)
    {
        var waits = result.Waits.Order().ToArray();
        Console.WriteLine($"| {name} | {Readers:N0} | {moment} | {result.Calls} | {Ms(waits[waits.Length / 2])} | {Ms(waits[^1])} |");
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds < 1 ? $"{t.TotalMicroseconds:F0} µs" : $"{t.TotalMilliseconds:F1} ms";

    private static IEnumerable<(string, Func<bool, Task<(int, TimeSpan[])>>)> Peers()
    {
        yield return ("BackgroundCache (GetAsync)", BackgroundCacheAsync);
        yield return ("IMemoryCache GetOrCreateAsync", MemoryCacheAsync);
        yield return ("HybridCache GetOrCreateAsync", HybridCacheAsync);
        yield return ("FusionCache GetOrSetAsync", FusionCacheAsync);
    }

    private static async Task<TimeSpan[]> ReadAllAsync(Func<ValueTask<Payload>> read)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var readers = Enumerable.Range(0, Readers).Select(async _ =>
        {
            await start.Task; // all readers are released together
            var clock = Stopwatch.StartNew();
            await read();
            return clock.Elapsed;
        }).ToArray();
        start.SetResult();
        return await Task.WhenAll(readers);
    }

    private static async Task<(int, TimeSpan[])> BackgroundCacheAsync(bool atExpiry)
    {
        var calls = 0;
        var refreshStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddRefreshingCache<Payload>(async (_, ct) =>
        {
            var n = Interlocked.Increment(ref calls);
            if (n == 2)
            {
                refreshStarted.TrySetResult();
            }

            await Task.Delay(FactoryTime, ct);
            return new Payload("v" + n);
        }, o =>
        {
            o.RefreshInterval = TimeSpan.FromSeconds(1);
            o.Jitter = TimeSpan.Zero;
        });
        using var host = builder.Build();
        var cache = host.Services.GetRequiredService<IRefreshingCache<Payload>>();
        await host.StartAsync();
        TimeSpan[] waits;
        if (atExpiry)
        {
            await cache.GetAsync();
            await refreshStarted.Task; // the scheduled refresh is now in flight
            waits = await ReadAllAsync(() => cache.GetAsync());
            await cache.RefreshAsync(); // joins the in-flight refresh: its one call
            await host.StopAsync();
            return (calls - 1, waits);
        }

        waits = await ReadAllAsync(() => cache.GetAsync());
        await host.StopAsync();
        return (calls, waits);
    }

    private static async Task<(int, TimeSpan[])> MemoryCacheAsync(bool atExpiry)
    {
        using var cache = new MemoryCache(new MemoryCacheOptions());
        var calls = 0;
        if (atExpiry)
        {
            cache.Set(CacheSetup.Key, new Payload("old"), TimeSpan.FromMilliseconds(1));
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }

        var waits = await ReadAllAsync(async () => (await cache.GetOrCreateAsync(CacheSetup.Key, async entry =>
        {
            Interlocked.Increment(ref calls);
            entry.AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(5);
            await Task.Delay(FactoryTime);
            return new Payload("new");
        }))!);
        return (calls, waits);
    }

    private static async Task<(int, TimeSpan[])> HybridCacheAsync(bool atExpiry)
    {
        var services = new ServiceCollection();
        services.AddHybridCache();
        await using var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<HybridCache>();
        var calls = 0;
        if (atExpiry)
        {
            await cache.SetAsync(CacheSetup.Key, new Payload("old"), new HybridCacheEntryOptions { Expiration = TimeSpan.FromMilliseconds(1), LocalCacheExpiration = TimeSpan.FromMilliseconds(1) });
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }

        var waits = await ReadAllAsync(() => cache.GetOrCreateAsync(CacheSetup.Key, async ct =>
        {
            Interlocked.Increment(ref calls);
            await Task.Delay(FactoryTime, ct);
            return new Payload("new");
        }));
        return (calls, waits);
    }

    private static async Task<(int, TimeSpan[])> FusionCacheAsync(bool atExpiry)
    {
        using var cache = new FusionCache(new FusionCacheOptions());
        var calls = 0;
        if (atExpiry)
        {
            cache.Set(CacheSetup.Key, new Payload("old"), TimeSpan.FromMilliseconds(1));
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }

        var waits = await ReadAllAsync(() => cache.GetOrSetAsync<Payload>(CacheSetup.Key, async (_, ct) =>
        {
            Interlocked.Increment(ref calls);
            await Task.Delay(FactoryTime, ct);
            return new Payload("new");
        }, TimeSpan.FromMinutes(5)));
        return (calls, waits);
    }
}
