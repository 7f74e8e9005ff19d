using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Microsoft.Extensions.Caching.Memory;
using ZiggyCreatures.Caching.Fusion;

namespace BackgroundCache.Benchmarks;

/// <summary>Reading a loaded value, one thread: the volatile-field floor against each peer's read hit.</summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class ReadHitBenchmarks
{
    private readonly CacheSetup _caches = new();
    private static readonly Func<CancellationToken, ValueTask<Payload>> HybridFactory = _ => throw new InvalidOperationException("miss");
    private static readonly Func<ICacheEntry, Task<Payload>> MemoryFactory = _ => throw new InvalidOperationException("miss");

    [GlobalSetup]
    public Task SetupAsync() => _caches.StartAsync();

    [GlobalCleanup]
    public Task CleanupAsync() => _caches.DisposeAsync().AsTask();

    [Benchmark(Baseline = true, Description = "volatile field (floor)")]
    public Payload VolatileField() => _caches.Field;

    [Benchmark(Description = "BackgroundCache TryGetValue")]
    public Payload? RefreshingTryGetValue() => _caches.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "BackgroundCache GetAsync")]
    public ValueTask<Payload> RefreshingGetAsync() => _caches.Refreshing.GetAsync();

    [Benchmark(Description = "IMemoryCache TryGetValue")]
    public Payload? MemoryTryGetValue() => _caches.Memory.TryGetValue(CacheSetup.Key, out Payload? value) ? value : null;

    [Benchmark(Description = "IMemoryCache GetOrCreateAsync")]
    public Task<Payload?> MemoryGetOrCreateAsync() => _caches.Memory.GetOrCreateAsync(CacheSetup.Key, MemoryFactory);

    [Benchmark(Description = "HybridCache GetOrCreateAsync")]
    public ValueTask<Payload> HybridGetOrCreateAsync() => _caches.Hybrid.GetOrCreateAsync(CacheSetup.HybridKey, HybridFactory);

    [Benchmark(Description = "FusionCache TryGet")]
    public Payload? FusionTryGet() => _caches.Fusion.TryGet<Payload>(CacheSetup.FusionKey).GetValueOrDefault();

    [Benchmark(Description = "FusionCache GetOrSet")]
    public Payload FusionGetOrSet() => _caches.Fusion.GetOrSet<Payload>(CacheSetup.FusionKey, _ => throw new InvalidOperationException("miss"));

    [Benchmark(Description = "FusionCache GetOrSetAsync")]
    public ValueTask<Payload> FusionGetOrSetAsync() => _caches.Fusion.GetOrSetAsync<Payload>(CacheSetup.FusionKey, (_, _) => throw new InvalidOperationException("miss"));

    [Benchmark(Description = "TimeProvider.GetUtcNow (a clock read)")]
    public DateTimeOffset ClockRead() => TimeProvider.System.GetUtcNow();

    [Benchmark(Description = "Environment.TickCount64 (a coarse clock read)")]
    public long TickCountRead() => Environment.TickCount64;

    [Benchmark(Description = "Stopwatch.GetTimestamp (a monotonic clock read)")]
    public long TimestampRead() => System.Diagnostics.Stopwatch.GetTimestamp();

    // The alternative to a timer that withdraws expired values (issue #11, item 3): a read-side expiry check against a
    // precomputed tick. Not what the library does; measured to show why.
    [Benchmark(Description = "TryGetValue + read-side expiry check (TickCount64)")]
    public Payload? RefreshingTryGetValueWithExpiryCheck() =>
        _caches.Refreshing.TryGetValue(out var value) && Environment.TickCount64 < _expiresAtTick ? value : null;

    private readonly long _expiresAtTick = Environment.TickCount64 + (long)TimeSpan.FromHours(1).TotalMilliseconds;
}
