using BackgroundCache.Benchmarks;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- --filter '*'      (BenchmarkDotNet: read paths)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios          (stampede, upstream calls per day, cache sets)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios sets     (cache sets only, ~7 min)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios churn      (issue 21: memory after removal, allocation per refresh; --keys 1000000)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios singles    (issue 21: CPU to start and stop 10,000 and 30,000 single caches, in one process and each host in a fresh process)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios load-cpu   (issue 21: CPU to load 10,000 keys, set vs IMemoryCache + loop, same cap; also behind a 1 ms upstream, and at 1,000 and 100,000 keys)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios load-cpu-set-only | load-cpu-loop-only   (one side only, LOAD_ROUNDS times: for a profiler)
// dotnet run -c Release --project tests/BackgroundCache.Benchmarks -- scenarios starvation (expired value withdrawal with the pool starved, ~1 min)
if (args.Length > 0 && args[0] == "scenarios")
{
    await Scenarios.RunAsync(args[1..]);
    return;
}

// Each benchmark builds a project of its own; on a busy 2-core machine that can exceed BenchmarkDotNet's 2-minute default.
BenchmarkSwitcher.FromAssembly(typeof(ReadHitBenchmarks).Assembly).Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(10)));
