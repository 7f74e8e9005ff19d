using BenchmarkDotNet.Attributes;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// BackgroundCache reads while nothing happens, and while another thread forces refreshes back to back (a refresh is
/// always in progress and values are published continuously): readers must not notice.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class ReadDuringRefreshBenchmarks
{
    private readonly CacheSetup _steady = new();
    private readonly CacheSetup _refreshing = new();
    private CancellationTokenSource? _stop;
    private Task? _refresher;
    private int _fetches;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        await _steady.StartAsync();
        _refreshing.Fetch = async (_, _) =>
        {
            Interlocked.Increment(ref _fetches);
            await Task.Yield(); // a fetch that is genuinely in flight
            return new Payload("v" + _fetches);
        };
        await _refreshing.StartAsync();
        _stop = new CancellationTokenSource();
        _refresher = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                await _refreshing.Refreshing.RefreshAsync();
            }
        });
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _stop!.CancelAsync();
        await _refresher!;
        Console.WriteLine($"// refreshes completed during the run: {_fetches}");
        await _steady.DisposeAsync();
        await _refreshing.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "TryGetValue, steady")]
    public Payload? Steady() => _steady.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "TryGetValue, refresh always in progress")]
    public Payload? DuringRefresh() => _refreshing.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "GetAsync, steady")]
    public ValueTask<Payload> SteadyGetAsync() => _steady.Refreshing.GetAsync();

    [Benchmark(Description = "GetAsync, refresh always in progress")]
    public ValueTask<Payload> DuringRefreshGetAsync() => _refreshing.Refreshing.GetAsync();
}
