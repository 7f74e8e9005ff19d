using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ZiggyCreatures.Caching.Fusion;

namespace BackgroundCache.Benchmarks;

/// <summary>Each cache set up the way its own docs recommend, holding the same value under the same key.</summary>
public sealed class CacheSetup : IAsyncDisposable
{
    /// <summary>Each peer has its own key: HybridCache uses the registered IMemoryCache as its L1 store.</summary>
    public const string Key = "payload";

    public const string HybridKey = "hybrid:payload";

    public const string FusionKey = "fusion:payload";
    private IHost _host = null!;
    private volatile Payload _field = null!;

    public Payload Value { get; } = new("80_" + new string('x', 150));

    public Payload Field => _field;

    public IRefreshingCache<Payload> Refreshing { get; private set; } = null!;

    public IMemoryCache Memory { get; private set; } = null!;

    public HybridCache Hybrid { get; private set; } = null!;

    public IFusionCache Fusion { get; private set; } = null!;

    public Func<IServiceProvider, CancellationToken, ValueTask<Payload>>? Fetch { get; set; }

    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public async Task StartAsync()
    {
        _field = Value;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddRefreshingCache(Fetch ?? ((_, _) => ValueTask.FromResult(Value)), o =>
        {
            o.RefreshInterval = TimeSpan.FromHours(1);
            o.FetchTimeout = FetchTimeout;
        });
        builder.Services.AddMemoryCache();
        builder.Services.AddHybridCache();
        builder.Services.AddFusionCache();
        _host = builder.Build();
        await _host.StartAsync();

        Refreshing = _host.Services.GetRequiredService<IRefreshingCache<Payload>>();
        await Refreshing.GetAsync();
        Memory = _host.Services.GetRequiredService<IMemoryCache>();
        Memory.Set(Key, Value, TimeSpan.FromHours(1));
        Hybrid = _host.Services.GetRequiredService<HybridCache>();
        await Hybrid.SetAsync(HybridKey, Value);
        Fusion = _host.Services.GetRequiredService<IFusionCache>();
        Fusion.Set(FusionKey, Value, TimeSpan.FromHours(1));
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
