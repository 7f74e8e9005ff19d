using System.Collections.Concurrent;
using BackgroundCache.Internal.Engine;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ZiggyCreatures.Caching.Fusion;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// Reading a loaded value by key, one thread, 10,000 or 100,000 keys ("tenant-0000" …) loaded in each cache. Each
/// invocation reads a fixed pseudo-random sequence of 1,024 keys (seed 42); the lookup keys are separate string instances
/// from the stored ones, as keys parsed from requests are. Results are per read. Two floors: a bare
/// <c>ConcurrentDictionary</c> of values, and a <c>ConcurrentDictionary</c> of holders read through a volatile field (what a
/// keyed read at least has to do: find the key, then read the current value).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class KeyedReadHitBenchmarks
{
    public const int KeyCount = 10_000;
    private const int Reads = 1024;
    private const string SetName = "tenants";
    private readonly Payload _value = new("80_" + new string('x', 150));
    private readonly ConcurrentDictionary<string, Payload> _dictionary = new();
    private readonly ConcurrentDictionary<string, Holder> _holders = new();
    private IHost _host = null!;
    private IRefreshingCacheSet<string, Payload> _set = null!;
    private IMemoryCache _memory = null!;
    private IFusionCache _fusion = null!;
    private string[] _sequence = null!;

    [Params(KeyCount, 100_000)]
    public int Keys { get; set; }

    public static string KeyOf(int i) => $"tenant-{i:D4}";

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddRefreshingCacheSet<string, Payload>(SetName, (_, _, _) => ValueTask.FromResult(_value));
        builder.Services.Configure<RefreshingCacheOptions>(SetName, o => o.RefreshInterval = TimeSpan.FromHours(1));
        builder.Services.AddMemoryCache();
        builder.Services.AddFusionCache(); // its own MemoryCache, not the registered one
        _host = builder.Build();
        await _host.StartAsync();

        _set = _host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, Payload>>(SetName);
        _memory = _host.Services.GetRequiredService<IMemoryCache>();
        _fusion = _host.Services.GetRequiredService<IFusionCache>();
        for (var i = 0; i < Keys; i++)
        {
            var key = KeyOf(i);
            _set.GetOrAdd(key);
            _memory.Set(key, _value, TimeSpan.FromHours(1));
            _fusion.Set(key, _value, TimeSpan.FromHours(1));
            _dictionary[key] = _value;
            _holders[key] = new Holder(_value);
        }

        await _host.Services.GetRequiredKeyedService<RefreshingCacheSet<string, Payload>>(SetName).WhenQuiescentAsync();

        var random = new Random(42);
        _sequence = [.. Enumerable.Range(0, Reads).Select(_ => new string(KeyOf(random.Next(Keys)).AsSpan()))];
        foreach (var key in _sequence)
        {
            if (!_set.TryGetValue(key, out var a) || !_memory.TryGetValue(key, out Payload? b) || !_fusion.TryGet<Payload>(key).HasValue || !ReferenceEquals(a, b))
            {
                throw new InvalidOperationException($"'{key}' is not loaded in every cache");
            }
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Reads, Description = "BackgroundCache set TryGetValue(key)")]
    public Payload? SetTryGetValue()
    {
        Payload? last = null;
        var set = _set;
        foreach (var key in _sequence)
        {
            if (set.TryGetValue(key, out var value))
            {
                last = value;
            }
        }

        return last;
    }

    [Benchmark(OperationsPerInvoke = Reads, Description = "ConcurrentDictionary TryGetValue (floor)")]
    public Payload? DictionaryTryGetValue()
    {
        Payload? last = null;
        var dictionary = _dictionary;
        foreach (var key in _sequence)
        {
            if (dictionary.TryGetValue(key, out var value))
            {
                last = value;
            }
        }

        return last;
    }

    [Benchmark(OperationsPerInvoke = Reads, Description = "ConcurrentDictionary + volatile read (floor)")]
    public Payload? HolderTryGetValue()
    {
        Payload? last = null;
        var holders = _holders;
        foreach (var key in _sequence)
        {
            if (holders.TryGetValue(key, out var holder))
            {
                last = holder.Value;
            }
        }

        return last;
    }

    [Benchmark(OperationsPerInvoke = Reads, Description = "IMemoryCache TryGetValue(key)")]
    public Payload? MemoryTryGetValue()
    {
        Payload? last = null;
        var memory = _memory;
        foreach (var key in _sequence)
        {
            if (memory.TryGetValue(key, out Payload? value))
            {
                last = value;
            }
        }

        return last;
    }

    [Benchmark(OperationsPerInvoke = Reads, Description = "FusionCache TryGet(key)")]
    public Payload? FusionTryGet()
    {
        Payload? last = null;
        var fusion = _fusion;
        foreach (var key in _sequence)
        {
            var value = fusion.TryGet<Payload>(key);
            if (value.HasValue)
            {
                last = value.Value;
            }
        }

        return last;
    }

    private sealed class Holder(Payload value)
    {
        private volatile Payload _value = value;

        public Payload Value
        {
            get => _value;
            set => _value = value;
        }
    }
}
