using System.Diagnostics;
using System.Globalization;
using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ZiggyCreatures.Caching.Fusion;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// Many values of one kind, one per key (N = 1,000 and 10,000), kept fresh by: a BackgroundCache set (one timer, a fetch
/// budget, whole-set backoff); FusionCache with eager refresh (one entry per key); and an IMemoryCache filled by one
/// BackgroundService loop (<see cref="MemoryCacheRefreshLoop"/>). Registration time, load time with a 20 ms fetch,
/// managed memory per key, timers, idle CPU, the most fetches in flight at once, and upstream calls during a 10-minute
/// outage. Every peer holds the same shared value instance under every key, so the value itself costs nothing.
/// </summary>
public static class CacheSetScenario
{
    private const string SetName = "tenants";
    private const int FusionTimeScale = 20;
    private static readonly int[] KeyCounts = [1_000, 10_000];
    private static readonly int[] Caps = [16, 100];
    private static readonly TimeSpan FetchTime = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan OutageStartsAfter = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan OutageLength = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan FusionReadEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan QuiesceGuard = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);
    private static readonly Payload Shared = new("80_" + new string('x', 150));
    private static readonly Task<Payload> SharedTask = Task.FromResult(Shared);

    private static TimeSpan IdleWindow { get; set; } = TimeSpan.FromSeconds(60);

    public static async Task RunAsync(string[] args)
    {
        // scenarios sets [--idle-seconds 60]
        for (var i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--idle-seconds")
            {
                IdleWindow = TimeSpan.FromSeconds(int.Parse(args[i + 1], CultureInfo.InvariantCulture));
            }
        }

        var total = Stopwatch.StartNew();
        Console.WriteLine("## Cache sets: N keys, one shared value, 20 ms fetch");
        Console.WriteLine();
        Console.WriteLine($"Refresh every {RefreshInterval.TotalMinutes:0} min (jitter 30 s), retries 1 s doubling to 1 min, FetchTimeout 30 s;");
        Console.WriteLine($"FusionCache: Duration {RefreshInterval.TotalMinutes:0} min, EagerRefreshThreshold 0.9, fail-safe on (max 2 h, throttle 30 s).");
        Console.WriteLine();

        Registration();
        var idle = new List<(string Cache, TimeSpan Cpu, string Timers)>();
        await LoadAsync(idle);
        idle.Add(await SinglesIdleAsync(100));
        idle.Add(await EmptyHostIdleAsync());
        PrintIdle(idle);
        await OutageAsync();
        Console.WriteLine($"(scenario ran {total.Elapsed.TotalMinutes:F1} min)");
        Console.WriteLine();
    }

    private static string[] Keys(int n) => [.. Enumerable.Range(0, n).Select(i => $"tenant-{i:D4}")];

    internal static void ConfigureRefresh(RefreshingCacheOptions o)
    {
        o.RefreshInterval = RefreshInterval;
        o.Jitter = TimeSpan.FromSeconds(30);
        o.RetryInitialDelay = TimeSpan.FromSeconds(1);
        o.RetryMaxDelay = TimeSpan.FromMinutes(1);
        o.FetchTimeout = TimeSpan.FromSeconds(30);
    }

    private static FusionCacheEntryOptions FusionOptions(int scale) => new()
    {
        Duration = RefreshInterval / scale,
        EagerRefreshThreshold = 0.9f,
        IsFailSafeEnabled = true,
        FailSafeMaxDuration = TimeSpan.FromHours(2) / scale,
        FailSafeThrottleDuration = TimeSpan.FromSeconds(30) / scale,
    };

    private static HostApplicationBuilder NewBuilder(TimeProvider? time)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        return builder;
    }

    /// <summary>Managed heap after full, compacting collections.</summary>
    private static long ManagedBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>
    /// Managed heap once a disposed host is really unreachable: for a few hundred milliseconds after <c>StopAsync</c> returns
    /// something in the runtime still references the last host (measured with a WeakReference: alive at once, gone 500 ms later).
    /// </summary>
    private static async Task<long> SettledBytesAsync()
    {
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        return ManagedBytes();
    }

    private static async Task<TimeSpan> IdleCpuAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(2)); // background tier-1 JIT after the load settles
        ManagedBytes();
        using var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        await Task.Delay(IdleWindow);
        process.Refresh();
        return process.TotalProcessorTime - before;
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds switch
    {
        < 10 => $"{t.TotalMilliseconds:F2} ms",
        < 1000 => $"{t.TotalMilliseconds:F0} ms",
        _ => $"{t.TotalSeconds:F2} s",
    };

    // ---------------------------------------------------------------- registration

    private static void Registration()
    {
        Console.WriteLine("### Registration and adding the keys (host built, not started: no fetch runs)");
        Console.WriteLine();
        Console.WriteLine("| what | keys | register + Build | create the N caches | total |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        const string set = "BackgroundCache set: `AddRefreshingCacheSet` + Build + N × `GetOrAdd(key)`";
        const string singles = "N single caches: N × `AddRefreshingCache(\"name-i\")` + Build + resolve N";
        var largest = Keys(KeyCounts[^1]);
        PrintRegistration(set + ", first run in the process (JIT)", largest.Length, TimeSetRegistration(largest));
        PrintRegistration(singles + ", first run in the process (JIT)", largest.Length, TimeSinglesRegistration(largest));
        foreach (var n in KeyCounts)
        {
            var keys = Keys(n);
            PrintRegistration(set, n, Median(() => TimeSetRegistration(keys)));
            PrintRegistration(singles, n, Median(() => TimeSinglesRegistration(keys)));
        }

        Console.WriteLine();
        Console.WriteLine("(after the first runs: median of 3 runs)");
        Console.WriteLine();
    }

    private static (TimeSpan Register, TimeSpan Create) Median(Func<(TimeSpan, TimeSpan)> run)
    {
        var runs = new List<(TimeSpan Register, TimeSpan Create)>();
        for (var i = 0; i < 3; i++)
        {
            ManagedBytes();
            runs.Add(run());
        }

        return runs.OrderBy(r => r.Register + r.Create).ElementAt(1);
    }

    private static void PrintRegistration(string what, int n, (TimeSpan Register, TimeSpan Create) t) =>
        Console.WriteLine($"| {what} | {n:N0} | {Ms(t.Register)} | {Ms(t.Create)} | {Ms(t.Register + t.Create)} |");

    private static (TimeSpan, TimeSpan) TimeSetRegistration(string[] keys)
    {
        var builder = NewBuilder(null);
        var clock = Stopwatch.StartNew();
        builder.Services.AddRefreshingCacheSet<string, Payload>(SetName, (_, _, _) => ValueTask.FromResult(Shared));
        builder.Services.Configure<RefreshingCacheOptions>(SetName, ConfigureRefresh);
        using var host = builder.Build();
        var register = clock.Elapsed;
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, Payload>>(SetName);
        foreach (var key in keys)
        {
            set.GetOrAdd(key);
        }

        var create = clock.Elapsed - register;
        if (set.Count != keys.Length)
        {
            throw new InvalidOperationException($"set holds {set.Count} keys, expected {keys.Length}");
        }

        return (register, create);
    }

    private static (TimeSpan, TimeSpan) TimeSinglesRegistration(string[] keys)
    {
        var builder = NewBuilder(null);
        var clock = Stopwatch.StartNew();
        builder.Services.ConfigureAll<RefreshingCacheOptions>(ConfigureRefresh);
        foreach (var key in keys)
        {
            builder.Services.AddRefreshingCache(key, (_, _) => ValueTask.FromResult(Shared));
        }

        using var host = builder.Build();
        var register = clock.Elapsed;
        foreach (var key in keys)
        {
            host.Services.GetRequiredKeyedService<IRefreshingCache<Payload>>(key);
        }

        return (register, clock.Elapsed - register);
    }

    // ---------------------------------------------------------------- load, memory, timers

    private sealed record LoadRow(string Cache, int Keys, string Cap, TimeSpan Load, int MaxConcurrent, string LiveTimers, long ArmedTimers, int Served)
    {
        public double BytesPerKey { get; init; }
    }

    private delegate Task<(LoadRow Row, long Alive)> LoadRun(string[] keys, List<(string, TimeSpan, string)>? idle);

    private static async Task LoadAsync(List<(string, TimeSpan, string)> idle)
    {
        Console.WriteLine("### Load, memory and timers (real time, fetch = 20 ms `Task.Delay`)");
        Console.WriteLine();
        Console.WriteLine("| cache | keys | fetches at once allowed | load time | max concurrent fetches | managed bytes per key | live ITimers | armed timers (Δ `Timer.ActiveCount`) | keys served |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var n in KeyCounts)
        {
            var keys = Keys(n);
            var idleHere = n == KeyCounts[^1] ? idle : null;
            foreach (var cap in Caps)
            {
                Print(await MeasureAsync(keys, cap == Caps[0] ? idleHere : null, (k, i) => SetLoadAsync(k, cap, i)));
            }

            foreach (var cap in Caps)
            {
                Print(await MeasureAsync(keys, cap == Caps[0] ? idleHere : null, (k, i) => LoopLoadAsync(k, cap, i)));
            }

            Print(await MeasureAsync(keys, idleHere, FusionLoadAsync));
            Print(await MeasureAsync(keys, null, SinglesLoadAsync));
        }

        Console.WriteLine();

        static void Print(LoadRow r) => Console.WriteLine(
            $"| {r.Cache} | {r.Keys:N0} | {r.Cap} | {Ms(r.Load)} | {r.MaxConcurrent:N0} | {r.BytesPerKey:N0} | {r.LiveTimers} | {r.ArmedTimers:N0} | {r.Served:N0} |");
    }

    /// <summary>
    /// Runs a peer twice, with no key and with <paramref name="keys"/>; each run reports the managed heap while its host is
    /// alive (keys loaded), and the heap is measured again once the run has returned and its host is gone. Bytes per key:
    /// (alive − gone) with the keys, minus the same with none (the host, DI and the empty cache), divided by the keys.
    /// </summary>
    private static async Task<LoadRow> MeasureAsync(string[] keys, List<(string, TimeSpan, string)>? idle, LoadRun run)
    {
        var pre = await SettledBytesAsync();
        var (_, emptyAlive) = await run([], null);
        var emptyGone = await SettledBytesAsync();
        var (row, alive) = await run(keys, idle);
        var gone = await SettledBytesAsync();
        if (gone - pre > 256 * 1024)
        {
            Console.Error.WriteLine($"note: {row.Cache}, {keys.Length:N0} keys: {gone - pre:N0} bytes more on the heap after its host was disposed than before");
        }

        return row with { BytesPerKey = (alive - gone - (emptyAlive - emptyGone)) / (double)keys.Length };
    }

    /// <summary>Live ITimers of <paramref name="time"/>, and armed timers in the process since <paramref name="armedBefore"/> (after short-lived ones have fired).</summary>
    private static async Task<(string Live, long Armed)> TimersAsync(CountingTimeProvider? time, long armedBefore)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        return (time?.LiveTimers.ToString("N0", CultureInfo.InvariantCulture) ?? "n/a (no TimeProvider)", Timer.ActiveCount - armedBefore);
    }

    private static async Task<(LoadRow, long)> SetLoadAsync(string[] keys, int cap, List<(string, TimeSpan, string)>? idle)
    {
        var upstream = new Upstream();
        var time = new CountingTimeProvider(TimeProvider.System);
        var armedBefore = Timer.ActiveCount;
        var builder = NewBuilder(time);
        builder.Services.AddRefreshingCacheSet<string, Payload>(SetName, (_, _, ct) => new ValueTask<Payload>(upstream.FetchAsync(ct)), o => o.MaxConcurrentFetches = cap);
        builder.Services.Configure<RefreshingCacheOptions>(SetName, ConfigureRefresh);
        using var host = builder.Build();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, Payload>>(SetName);
        var engine = host.Services.GetRequiredKeyedService<RefreshingCacheSet<string, Payload>>(SetName);
        await host.StartAsync();

        var clock = Stopwatch.StartNew();
        foreach (var key in keys)
        {
            set.GetOrAdd(key);
        }

        await engine.WhenQuiescentAsync().WaitAsync(QuiesceGuard);
        clock.Stop();

        var served = keys.Count(k => set.TryGetValue(k, out var v) && ReferenceEquals(v, Shared));
        var (live, armed) = await TimersAsync(time, armedBefore);
        var name = $"BackgroundCache set (one timer, budget {cap})";
        if (upstream.Calls != keys.Length || set.Count != keys.Length)
        {
            Console.Error.WriteLine($"note: {name} made {upstream.Calls} calls and holds {set.Count} keys for {keys.Length} keys");
        }

        if (idle is not null)
        {
            idle.Add(($"BackgroundCache set, {keys.Length:N0} keys (cap {cap})", await IdleCpuAsync(), live));
        }

        var alive = ManagedBytes();
        await host.StopAsync();
        return (new LoadRow(name, keys.Length, $"{cap} (MaxConcurrentFetches)", clock.Elapsed, upstream.MaxActive, live, armed, served), alive);
    }

    private static async Task<(LoadRow, long)> LoopLoadAsync(string[] keys, int parallelism, List<(string, TimeSpan, string)>? idle)
    {
        var upstream = new Upstream();
        var time = new CountingTimeProvider(TimeProvider.System);
        var armedBefore = Timer.ActiveCount;
        var builder = NewBuilder(time);
        builder.Services.AddMemoryCache();
        using var host = builder.Build();
        await host.StartAsync();
        var cache = host.Services.GetRequiredService<IMemoryCache>();

        var clock = Stopwatch.StartNew();
        using var loop = new MemoryCacheRefreshLoop(cache, (_, ct) => new ValueTask<Payload>(upstream.FetchAsync(ct)), keys, parallelism, RefreshInterval, time);
        await loop.StartAsync(CancellationToken.None);
        await loop.WaitForPassAsync().WaitAsync(QuiesceGuard);
        clock.Stop();

        var served = keys.Count(k => cache.TryGetValue(k, out Payload? v) && ReferenceEquals(v, Shared));
        var (live, armed) = await TimersAsync(time, armedBefore);
        if (idle is not null)
        {
            idle.Add(($"IMemoryCache + one loop, {keys.Length:N0} keys ({parallelism} at once)", await IdleCpuAsync(), live));
        }

        var alive = ManagedBytes();
        await loop.StopAsync(CancellationToken.None);
        await host.StopAsync();
        var name = $"IMemoryCache + one loop (`Parallel.ForEachAsync`, {parallelism} at once)";
        return (new LoadRow(name, keys.Length, $"{parallelism} (MaxDegreeOfParallelism)", clock.Elapsed, upstream.MaxActive, live, armed, served), alive);
    }

    private static async Task<(LoadRow, long)> FusionLoadAsync(string[] keys, List<(string, TimeSpan, string)>? idle)
    {
        var upstream = new Upstream();
        var armedBefore = Timer.ActiveCount;
        var builder = NewBuilder(null);
        builder.Services.AddFusionCache().WithDefaultEntryOptions(FusionOptions(1));
        using var host = builder.Build();
        await host.StartAsync();
        var fusion = host.Services.GetRequiredService<IFusionCache>();

        // Every key requested at once (FusionCache has no fetch budget across keys).
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(keys.Select(k => fusion.GetOrSetAsync<Payload>(k, (_, ct) => upstream.FetchAsync(ct)).AsTask()));
        clock.Stop();

        var served = keys.Count(k => fusion.TryGet<Payload>(k) is { HasValue: true } v && ReferenceEquals(v.Value, Shared));
        var (live, armed) = await TimersAsync(null, armedBefore);
        if (idle is not null)
        {
            idle.Add(($"FusionCache, {keys.Length:N0} keys", await IdleCpuAsync(), $"n/a (Δ armed: {armed})"));
        }

        var alive = ManagedBytes();
        await host.StopAsync();
        return (new LoadRow("FusionCache, eager refresh (every key requested at once)", keys.Length, "no limit", clock.Elapsed, upstream.MaxActive, live, armed, served), alive);
    }

    /// <summary>N single caches (`AddRefreshingCache("name-i")`), for reference: what a set replaces.</summary>
    private static async Task<(LoadRow, long)> SinglesLoadAsync(string[] keys, List<(string, TimeSpan, string)>? idle)
    {
        var upstream = new Upstream();
        var time = new CountingTimeProvider(TimeProvider.System);
        var armedBefore = Timer.ActiveCount;
        var builder = NewBuilder(time);
        builder.Services.ConfigureAll<RefreshingCacheOptions>(ConfigureRefresh);
        foreach (var key in keys)
        {
            builder.Services.AddRefreshingCache(key, (_, ct) => new ValueTask<Payload>(upstream.FetchAsync(ct)));
        }

        using var host = builder.Build();
        var clock = Stopwatch.StartNew();
        await host.StartAsync();
        var caches = keys.Select(k => host.Services.GetRequiredKeyedService<IRefreshingCache<Payload>>(k)).ToArray();
        foreach (var cache in caches)
        {
            await cache.GetAsync();
        }

        clock.Stop();
        var served = caches.Count(c => c.TryGetValue(out var v) && ReferenceEquals(v, Shared));
        var (live, armed) = await TimersAsync(time, armedBefore);
        var alive = ManagedBytes();
        GC.KeepAlive(caches);
        await host.StopAsync();
        return (new LoadRow($"{keys.Length:N0} single caches (`AddRefreshingCache`), for reference", keys.Length, "no limit", clock.Elapsed, upstream.MaxActive, live, armed, served), alive);
    }

    // ---------------------------------------------------------------- idle CPU

    private static async Task<(string, TimeSpan, string)> SinglesIdleAsync(int count)
    {
        var time = new CountingTimeProvider(TimeProvider.System);
        var upstream = new Upstream();
        var builder = NewBuilder(time);
        builder.Services.ConfigureAll<RefreshingCacheOptions>(ConfigureRefresh);
        for (var i = 0; i < count; i++)
        {
            builder.Services.AddRefreshingCache($"name-{i}", (_, ct) => new ValueTask<Payload>(upstream.FetchAsync(ct)));
        }

        using var host = builder.Build();
        await host.StartAsync();
        for (var i = 0; i < count; i++)
        {
            await host.Services.GetRequiredKeyedService<IRefreshingCache<Payload>>($"name-{i}").GetAsync();
        }

        var cpu = await IdleCpuAsync();
        var timers = time.LiveTimers.ToString("N0", CultureInfo.InvariantCulture);
        await host.StopAsync();
        return ($"{count} single caches (`AddRefreshingCache(\"name-i\")`), loaded", cpu, timers);
    }

    private static async Task<(string, TimeSpan, string)> EmptyHostIdleAsync()
    {
        var time = new CountingTimeProvider(TimeProvider.System);
        using var host = NewBuilder(time).Build();
        await host.StartAsync();
        var cpu = await IdleCpuAsync();
        await host.StopAsync();
        return ("empty host (noise floor of this process)", cpu, time.LiveTimers.ToString("N0", CultureInfo.InvariantCulture));
    }

    private static void PrintIdle(List<(string Cache, TimeSpan Cpu, string Timers)> rows)
    {
        Console.WriteLine($"### Idle CPU: process CPU time (`Process.TotalProcessorTime`) over {IdleWindow.TotalSeconds:0} s of real time, values loaded, nothing due");
        Console.WriteLine();
        Console.WriteLine("| cache | CPU time | live ITimers |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (cache, cpu, timers) in rows)
        {
            Console.WriteLine($"| {cache} | {cpu.TotalMilliseconds:F0} ms | {timers} |");
        }

        Console.WriteLine();
    }

    // ---------------------------------------------------------------- outage

    private static async Task OutageAsync()
    {
        Console.WriteLine($"### Upstream down for {OutageLength.TotalMinutes:0} minutes (every fetch fails), {OutageStartsAfter.TotalMinutes:0} min after all keys loaded");
        Console.WriteLine();
        Console.WriteLine("| cache | keys | clock | upstream calls during the outage | keys still served at its end | back to fresh after it ends |");
        Console.WriteLine("|---|---:|---|---:|---:|---|");
        foreach (var n in KeyCounts)
        {
            var keys = Keys(n);
            await SetOutageAsync(keys);
            await LoopOutageAsync(keys);
            await FusionOutageAsync(keys);
        }

        Console.WriteLine();
    }

    private static async Task SetOutageAsync(string[] keys)
    {
        var time = new FakeTimeProvider(Start);
        var upstream = new Upstream();
        var builder = NewBuilder(time);
        builder.Services.AddRefreshingCacheSet<string, Payload>(SetName, (_, _, _) => new ValueTask<Payload>(upstream.Instant()));
        builder.Services.Configure<RefreshingCacheOptions>(SetName, ConfigureRefresh);
        using var host = builder.Build();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, Payload>>(SetName);
        var engine = host.Services.GetRequiredKeyedService<RefreshingCacheSet<string, Payload>>(SetName);
        foreach (var key in keys)
        {
            set.GetOrAdd(key); // before start: fetched at start
        }

        await host.StartAsync();
        await QuiesceAsync(engine);
        var loaded = time.GetUtcNow();
        await AdvanceSetAsync(time, engine, loaded + OutageStartsAfter);

        upstream.Down = true;
        var callsBefore = upstream.Calls;
        var end = loaded + OutageStartsAfter + OutageLength;
        await AdvanceSetAsync(time, engine, end);
        var calls = upstream.Calls - callsBefore;
        var served = keys.Count(k => set.TryGetValue(k, out var v) && ReferenceEquals(v, Shared));
        var inOutage = engine.InOutage;

        upstream.Down = false;
        callsBefore = upstream.Calls;
        var freshAt = await AdvanceSetUntilFreshAsync(time, engine, end + TimeSpan.FromMinutes(30));
        var recovery = freshAt is { } at
            ? $"{(at - end).TotalSeconds:F0} s later, {upstream.Calls - callsBefore:N0} calls"
            : "not within 30 min";
        Console.WriteLine($"| BackgroundCache set (whole-set backoff{(inOutage ? string.Empty : "; NOT in outage at the end")}) | {keys.Length:N0} | FakeTimeProvider | {calls:N0} | {served:N0} | {recovery} |");
        await host.StopAsync();
    }

    private static Task QuiesceAsync(RefreshingCacheSet<string, Payload> engine) =>
        engine.WhenQuiescentAsync().WaitAsync(QuiesceGuard);

    /// <summary>Steps the fake clock from one scheduled wake to the next up to <paramref name="target"/>, letting each wake's attempts finish.</summary>
    private static async Task AdvanceSetAsync(FakeTimeProvider time, RefreshingCacheSet<string, Payload> engine, DateTimeOffset target)
    {
        await QuiesceAsync(engine);
        var stuck = 0;
        while (engine.Scheduler.NextDue is { } next && next <= target)
        {
            var now = time.GetUtcNow();
            time.Advance(next > now ? next - now : TimeSpan.Zero);
            await QuiesceAsync(engine);
            stuck = engine.Scheduler.NextDue == next && next <= now ? stuck + 1 : 0;
            if (stuck > 1000)
            {
                throw new InvalidOperationException($"the scheduler's earliest due time {next:O} stays queued at {time.GetUtcNow():O}");
            }
        }

        if (target > time.GetUtcNow())
        {
            time.Advance(target - time.GetUtcNow());
        }

        await QuiesceAsync(engine);
    }

    /// <summary>Steps the fake clock one wake at a time until every key holds a fresh value again; null if not by <paramref name="limit"/>.</summary>
    private static async Task<DateTimeOffset?> AdvanceSetUntilFreshAsync(FakeTimeProvider time, RefreshingCacheSet<string, Payload> engine, DateTimeOffset limit)
    {
        var checkedAt = DateTimeOffset.MinValue;
        while (true)
        {
            await QuiesceAsync(engine);
            var now = time.GetUtcNow();
            if (!engine.InOutage && now - checkedAt >= TimeSpan.FromSeconds(1))
            {
                checkedAt = now;
                if (engine.Entries.All(e => e.State == RefreshingCacheState.Fresh))
                {
                    return now;
                }
            }

            if (engine.Scheduler.NextDue is not { } next || next > limit)
            {
                return null;
            }

            time.Advance(next > now ? next - now : TimeSpan.Zero);
        }
    }

    private static async Task LoopOutageAsync(string[] keys)
    {
        var time = new FakeTimeProvider(Start);
        var upstream = new Upstream();
        using var cache = new MemoryCache(new MemoryCacheOptions());
        using var loop = new MemoryCacheRefreshLoop(cache, (_, _) => new ValueTask<Payload>(upstream.Instant()), keys, Caps[0], RefreshInterval, time);
        await loop.StartAsync(CancellationToken.None);
        await loop.WaitForPassAsync().WaitAsync(QuiesceGuard);
        var loaded = time.GetUtcNow();
        time.Advance(OutageStartsAfter);

        upstream.Down = true;
        var callsBefore = upstream.Calls;
        var end = loaded + OutageStartsAfter + OutageLength;
        while (loop.NextPassAt <= end)
        {
            time.Advance(loop.NextPassAt - time.GetUtcNow());
            await loop.WaitForPassAsync().WaitAsync(QuiesceGuard);
        }

        time.Advance(end - time.GetUtcNow());
        var calls = upstream.Calls - callsBefore;
        var served = keys.Count(k => cache.TryGetValue(k, out Payload? v) && ReferenceEquals(v, Shared));

        upstream.Down = false;
        callsBefore = upstream.Calls;
        var next = loop.NextPassAt;
        time.Advance(next - time.GetUtcNow());
        await loop.WaitForPassAsync().WaitAsync(QuiesceGuard);
        Console.WriteLine($"| IMemoryCache + one loop (`Parallel.ForEachAsync`, {Caps[0]} at once) | {keys.Length:N0} | FakeTimeProvider | {calls:N0} | {served:N0} | {(next - end).TotalSeconds:F0} s later (next pass), {upstream.Calls - callsBefore:N0} calls |");
        await loop.StopAsync(CancellationToken.None);
    }

    /// <summary>
    /// FusionCache reads the system clock directly (no TimeProvider), so this runs in real time compressed
    /// <see cref="FusionTimeScale"/>×: every duration (entry Duration, fail-safe throttle, outage, read period) divided by it.
    /// FusionCache refreshes only when a key is read: every key is read every 10 s (simulated) with GetOrSetAsync.
    /// </summary>
    private static async Task FusionOutageAsync(string[] keys)
    {
        var upstream = new Upstream();
        var builder = NewBuilder(null);
        builder.Services.AddFusionCache().WithDefaultEntryOptions(FusionOptions(FusionTimeScale));
        using var host = builder.Build();
        await host.StartAsync();
        var fusion = host.Services.GetRequiredService<IFusionCache>();
        Func<FusionCacheFactoryExecutionContext<Payload>, CancellationToken, Task<Payload>> factory = (_, _) => upstream.Instant();
        await Task.WhenAll(keys.Select(k => fusion.GetOrSetAsync<Payload>(k, factory).AsTask()));
        var clock = Stopwatch.StartNew();

        var outageStart = OutageStartsAfter / FusionTimeScale;
        var outageEnd = (OutageStartsAfter + OutageLength) / FusionTimeScale;
        var readEvery = FusionReadEvery / FusionTimeScale;
        long callsBefore = 0;
        var served = 0;
        var readFailures = 0;
        var slowestSweep = TimeSpan.Zero;
        var down = false;
        for (var sweep = 1; clock.Elapsed < outageEnd; sweep++)
        {
            var wait = (readEvery * sweep) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            if (!down && clock.Elapsed >= outageStart)
            {
                down = true;
                upstream.Down = true;
                callsBefore = upstream.Calls;
            }

            var sweepStart = clock.Elapsed;
            var ok = 0;
            foreach (var key in keys)
            {
                try
                {
                    if (ReferenceEquals(await fusion.GetOrSetAsync<Payload>(key, factory), Shared))
                    {
                        ok++;
                    }
                }
                catch (HttpRequestException)
                {
                    readFailures++;
                }
            }

            served = ok;
            slowestSweep = clock.Elapsed - sweepStart > slowestSweep ? clock.Elapsed - sweepStart : slowestSweep;
        }

        var calls = upstream.Calls - callsBefore;
        upstream.Down = false;
        var note = slowestSweep > readEvery ? $"; slowest read sweep {Ms(slowestSweep)} > period {Ms(readEvery)}" : string.Empty;
        Console.WriteLine($"| FusionCache, eager refresh + fail-safe (every key read every {FusionReadEvery.TotalSeconds:0} s) | {keys.Length:N0} | real time ÷ {FusionTimeScale}{note} | {calls:N0} | {served:N0}{(readFailures > 0 ? $" ({readFailures:N0} reads failed)" : string.Empty)} | n/m (on the next read after the throttle) |");
        await host.StopAsync();
    }

    /// <summary>The upstream: counts calls and the most in flight at once.</summary>
    private sealed class Upstream
    {
        private long _calls;
        private int _active;
        private int _maxActive;
        private volatile bool _down;

        public bool Down
        {
            get => _down;
            set => _down = value;
        }

        public long Calls => Interlocked.Read(ref _calls);

        public int MaxActive => Volatile.Read(ref _maxActive);

        /// <summary>A 20 ms call (real time).</summary>
        public async Task<Payload> FetchAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            var active = Interlocked.Increment(ref _active);
            int max;
            while (active > (max = Volatile.Read(ref _maxActive)) && Interlocked.CompareExchange(ref _maxActive, active, max) != max)
            {
            }

            try
            {
                await Task.Delay(FetchTime, cancellationToken);
                return Shared;
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }

        /// <summary>An instant call (simulated time): the shared value, or an error while the upstream is down.</summary>
        public Task<Payload> Instant()
        {
            Interlocked.Increment(ref _calls);
            return _down ? Task.FromException<Payload>(new HttpRequestException("upstream down (simulated outage)")) : SharedTask;
        }
    }
}
