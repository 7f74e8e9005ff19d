using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Memory;

namespace BackgroundCache.Benchmarks;

/// <summary>Reading a loaded value with every core reading at once; times are per read.</summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class ParallelReadBenchmarks
{
    private const int ReadsPerThread = 200_000;
    private static readonly int Threads = Environment.ProcessorCount;
    private readonly CacheSetup _caches = new();
    private static readonly Func<CancellationToken, ValueTask<Payload>> HybridFactory = _ => throw new InvalidOperationException("miss");

    [GlobalSetup]
    public Task SetupAsync() => _caches.StartAsync();

    [GlobalCleanup]
    public Task CleanupAsync() => _caches.DisposeAsync().AsTask();

    [Benchmark(Baseline = true, OperationsPerInvoke = ReadsPerThread, Description = "volatile field (floor), all cores")]
    public void VolatileField() => Parallel.For(0, Threads, t =>
    {
        for (var i = 0; i < ReadsPerThread / Threads; i++)
        {
            _ = _caches.Field;
        }
    });

    [Benchmark(OperationsPerInvoke = ReadsPerThread, Description = "BackgroundCache TryGetValue, all cores")]
    public void RefreshingTryGetValue() => Parallel.For(0, Threads, t =>
    {
        for (var i = 0; i < ReadsPerThread / Threads; i++)
        {
            _caches.Refreshing.TryGetValue(out _);
        }
    });

    [Benchmark(OperationsPerInvoke = ReadsPerThread, Description = "IMemoryCache TryGetValue, all cores")]
    public void MemoryTryGetValue() => Parallel.For(0, Threads, t =>
    {
        for (var i = 0; i < ReadsPerThread / Threads; i++)
        {
            _caches.Memory.TryGetValue(CacheSetup.Key, out _);
        }
    });

    [Benchmark(OperationsPerInvoke = ReadsPerThread, Description = "HybridCache GetOrCreateAsync, all cores")]
    public void HybridGetOrCreate() => Parallel.For(0, Threads, t =>
    {
        for (var i = 0; i < ReadsPerThread / Threads; i++)
        {
            var pending = _caches.Hybrid.GetOrCreateAsync(CacheSetup.HybridKey, HybridFactory);
            _ = pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        }
    });

    [Benchmark(OperationsPerInvoke = ReadsPerThread, Description = "FusionCache TryGet, all cores")]
    public void FusionTryGet() => Parallel.For(0, Threads, t =>
    {
        for (var i = 0; i < ReadsPerThread / Threads; i++)
        {
            _caches.Fusion.TryGet<Payload>(CacheSetup.FusionKey);
        }
    });
}
