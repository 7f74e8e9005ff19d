using BenchmarkDotNet.Attributes;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// BackgroundCache reads while nothing happens, and while a fetch is in flight for the whole run (a slow upstream: the
/// usual "refresh in progress"). Readers must not notice.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class ReadDuringRefreshBenchmarks
{
    private readonly CacheSetup _steady = new();
    private readonly CacheSetup _inFlight = new();
    private readonly TaskCompletionSource<Payload> _hanging = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task<Payload>? _pendingRefresh;
    private int _fetches;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        await _steady.StartAsync();
        _inFlight.FetchTimeout = TimeSpan.FromHours(1); // stays in flight for the whole run (the longest FetchTimeout allowed)
        _inFlight.Fetch = (_, _) => Interlocked.Increment(ref _fetches) == 1
            ? ValueTask.FromResult(new Payload("first"))
            : new ValueTask<Payload>(_hanging.Task);
        await _inFlight.StartAsync();
        _pendingRefresh = _inFlight.Refreshing.RefreshAsync(); // in flight for the whole run
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _hanging.TrySetResult(new Payload("late"));
        await _pendingRefresh!;
        await _steady.DisposeAsync();
        await _inFlight.DisposeAsync();
    }

    [Benchmark(Baseline = true, Description = "TryGetValue, steady")]
    public Payload? Steady() => _steady.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "TryGetValue, fetch in flight")]
    public Payload? InFlight() => _inFlight.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "GetAsync, steady")]
    public ValueTask<Payload> SteadyGetAsync() => _steady.Refreshing.GetAsync();

    [Benchmark(Description = "GetAsync, fetch in flight")]
    public ValueTask<Payload> InFlightGetAsync() => _inFlight.Refreshing.GetAsync();
}

/// <summary>
/// A stress case, apart so that it cannot disturb the class above: another thread forces refreshes back to back, so new
/// values are published continuously (millions per run) and the value's cache line keeps moving between cores.
/// MemoryDiagnoser counts the whole process's allocations, so the refreshing thread's allocations show up per read here.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class ReadDuringPublishStressBenchmarks
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
            await Task.Yield(); // a fetch that is genuinely asynchronous
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

    [Benchmark(Baseline = true, Description = "TryGetValue, steady (stress thread running)")]
    public Payload? Steady() => _steady.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "TryGetValue, new value published back to back")]
    public Payload? DuringRefresh() => _refreshing.Refreshing.TryGetValue(out var value) ? value : null;

    [Benchmark(Description = "GetAsync, new value published back to back")]
    public ValueTask<Payload> DuringRefreshGetAsync() => _refreshing.Refreshing.GetAsync();
}
