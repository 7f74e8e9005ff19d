using BenchmarkDotNet.Attributes;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// BackgroundCache reads while nothing happens; while a fetch is in flight (the usual "refresh in progress": a slow
/// upstream); and, as a stress case, while another thread forces refreshes back to back so that new values are
/// published continuously. Note: MemoryDiagnoser counts the whole process's allocations, so the refreshing thread's
/// allocations show up per read in this class; the single-thread read benchmark and the unit test measure the reader alone.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class ReadDuringRefreshBenchmarks
{
    private readonly CacheSetup _steady = new();
    private readonly CacheSetup _refreshing = new();
    private readonly CacheSetup _inFlight = new();
    private readonly TaskCompletionSource<Payload> _hanging = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task<Payload>? _pendingRefresh;
    private int _inFlightFetches;
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
        _inFlight.Fetch = (_, _) => Interlocked.Increment(ref _inFlightFetches) == 1
            ? ValueTask.FromResult(new Payload("first"))
            : new ValueTask<Payload>(_hanging.Task);
        await _inFlight.StartAsync();
        _pendingRefresh = _inFlight.Refreshing.RefreshAsync(); // in flight for the whole run
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
        _hanging.TrySetResult(new Payload("late"));
        await _pendingRefresh!;
        await _steady.DisposeAsync();
        await _refreshing.DisposeAsync();
        await _inFlight.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "TryGetValue, steady")]
    public Payload? Steady() => _steady.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "TryGetValue, fetch in flight")]
    public Payload? InFlight() => _inFlight.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "GetAsync, fetch in flight")]
    public ValueTask<Payload> InFlightGetAsync() => _inFlight.Refreshing.GetAsync();

    [Benchmark(Description = "TryGetValue, new value published back to back")]
    public Payload? DuringRefresh() => _refreshing.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "GetAsync, steady")]
    public ValueTask<Payload> SteadyGetAsync() => _steady.Refreshing.GetAsync();

    [Benchmark(Description = "GetAsync, new value published back to back")]
    public ValueTask<Payload> DuringRefreshGetAsync() => _refreshing.Refreshing.GetAsync();
}
