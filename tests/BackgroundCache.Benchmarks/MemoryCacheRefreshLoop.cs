using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Hosting;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// The hand-written peer of a cache set: one <see cref="BackgroundService"/> loop that fetches every key into
/// <see cref="IMemoryCache"/> with <see cref="Parallel.ForEachAsync{TSource}(IEnumerable{TSource}, ParallelOptions, Func{TSource, CancellationToken, ValueTask})"/>
/// (at most <c>parallelism</c> fetches at once), then waits the refresh interval and starts over. A failed fetch keeps the
/// key's previous value (entries are set without expiry) and is retried on the next pass.
/// </summary>
public sealed class MemoryCacheRefreshLoop(
    IMemoryCache cache,
    Func<string, CancellationToken, ValueTask<Payload>> fetch,
    IEnumerable<string> keys,
    int parallelism,
    TimeSpan interval,
    TimeProvider time) : BackgroundService
{
    private readonly string[] _keys = [.. keys]; // the loop's own key list
    private readonly SemaphoreSlim _passes = new(0);
    private long _nextPassTicks = long.MaxValue;
    private int _failures;

    /// <summary>Gets when the loop next wakes (after a pass), or <see cref="DateTimeOffset.MaxValue"/> while a pass runs.</summary>
    public DateTimeOffset NextPassAt => new(Interlocked.Read(ref _nextPassTicks), TimeSpan.Zero);

    /// <summary>Gets the failed fetches so far.</summary>
    public int Failures => Volatile.Read(ref _failures);

    /// <summary>Completes when the loop has finished one more pass and waits for its next one.</summary>
    public Task WaitForPassAsync(CancellationToken cancellationToken = default) => _passes.WaitAsync(cancellationToken);

    public override void Dispose()
    {
        base.Dispose();
        _passes.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = stoppingToken };
        while (!stoppingToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _nextPassTicks, long.MaxValue);
            try
            {
                await Parallel.ForEachAsync(_keys, options, async (key, ct) =>
                {
                    try
                    {
                        cache.Set(key, await fetch(key, ct));
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref _failures); // a real loop logs it; the key keeps its last value
                    }
                });
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Exchange(ref _nextPassTicks, (time.GetUtcNow() + interval).UtcTicks);
            _passes.Release();
            try
            {
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }
}
