using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// How long an expired value is still returned while the thread pool is starved (issue #11, item 3). Real time: a token
/// that expires 8 s after it is loaded, refreshes that fail, and every pool thread blocked from 6 s before the expiry
/// until 10 s after it (the pool keeps injecting threads, which block too). A plain thread reads in a loop and records
/// when <c>TryGetValue</c> first answers false; the delay from the expiry to that moment is the withdrawal delay.
/// </summary>
public static class StarvationScenario
{
    private static readonly TimeSpan Life = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan StarveBefore = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan StarveFor = TimeSpan.FromSeconds(16);

    public static async Task RunAsync(int runs = 3)
    {
        Console.WriteLine("## Expired value under thread-pool starvation");
        Console.WriteLine();
        Console.WriteLine("| run | pool | pool threads at expiry | withdrawn after expiry |");
        Console.WriteLine("|---:|---|---:|---:|");
        for (var run = 1; run <= runs; run++)
        {
            var (free, freeThreads) = await MeasureAsync(starve: false);
            Console.WriteLine($"| {run} | free | {freeThreads} | {Format(free)} |");
            var (starved, starvedThreads) = await MeasureAsync(starve: true);
            Console.WriteLine($"| {run} | starved | {starvedThreads} | {Format(starved)} |");
        }

        Console.WriteLine();
    }

    private static string Format(TimeSpan? delay) => delay is { } d ? $"{d.TotalMilliseconds:F1} ms" : "never (within the run)";

    private static async Task<(TimeSpan? Delay, int PoolThreads)> MeasureAsync(bool starve)
    {
        var calls = 0;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services
            .AddRefreshingCache<AccessToken>(
                (_, _) => Interlocked.Increment(ref calls) == 1
                    ? ValueTask.FromResult(new AccessToken("token", DateTimeOffset.UtcNow + Life))
                    : ValueTask.FromException<AccessToken>(new InvalidOperationException("upstream down")),
                o =>
                {
                    o.RefreshBeforeExpiry = TimeSpan.FromSeconds(1);
                    o.RetryInitialDelay = TimeSpan.FromMilliseconds(100);
                    o.RetryMaxDelay = TimeSpan.FromMilliseconds(200);
                });
        using var host = builder.Build();
        await host.StartAsync();
        var cache = host.Services.GetRequiredService<IRefreshingCache<AccessToken>>();
        var token = await cache.GetAsync();
        var expiresAt = token.ExpiresAt;

        using var release = new ManualResetEventSlim(false);
        TimeSpan? withdrawnAfter = null;
        var threadsAtExpiry = 0;
        var reader = new Thread(() =>
        {
            var end = expiresAt + StarveFor - StarveBefore;
            while (DateTimeOffset.UtcNow < end)
            {
                if (threadsAtExpiry == 0 && DateTimeOffset.UtcNow >= expiresAt)
                {
                    threadsAtExpiry = ThreadPool.ThreadCount;
                }

                if (!cache.TryGetValue(out _))
                {
                    withdrawnAfter = DateTimeOffset.UtcNow - expiresAt;
                    return;
                }

                Thread.SpinWait(20);
            }
        })
        { IsBackground = true, Name = "reader" };

        var untilStarve = expiresAt - StarveBefore - DateTimeOffset.UtcNow;
        if (untilStarve > TimeSpan.Zero)
        {
            Thread.Sleep(untilStarve);
        }

        if (starve)
        {
            // Far more blocking work items than the pool will ever have threads in the window.
            for (var i = 0; i < 2_000; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(
                    static r =>
                    {
                        // Blocked the way sync-over-async code blocks: the pool does not see it and injects threads slowly.
                        while (!((ManualResetEventSlim)r!).IsSet)
                        {
                            Thread.Sleep(50);
                        }
                    },
                    release);
            }
        }

        reader.Start();
        reader.Join();
        release.Set();
        await host.StopAsync();
        return (withdrawnAfter, threadsAtExpiry);
    }
}
