using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Tests;

public sealed class OptionsReloadTests
{
    [Fact]
    public async Task InvalidReload_IsLoggedOnceAndIgnored_ThenTheNextValidReloadIsTaken()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cache:RefreshInterval"] = "00:05:00",
            ["Cache:Jitter"] = "00:00:00",
        }).Build();
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, services: s => s.Configure<RefreshingCacheOptions>("test", config.GetSection("Cache")));
        await h.WaitIdleAsync();

        config["Cache:RefreshInterval"] = "00:00:00"; // an operator's typo in a reloadable appsettings.json
        config.Reload(); // nothing throws on the reloading thread
        await h.AdvanceToNextRefreshAsync();
        await h.AdvanceToNextRefreshAsync();

        upstream.Calls.Should().Be(3);
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Fresh);
        (h.Cache.Status.NextRefreshAt - h.Cache.Status.LastRefreshedAt).Should().Be(TimeSpan.FromMinutes(5), "the last valid options stay in force");
        h.Logs.GetSnapshot().Where(r => r.Id.Id == 1011).Should().ContainSingle().Which.Message.Should().Contain("RefreshInterval");
        h.Host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested.Should().BeFalse();

        config["Cache:RefreshInterval"] = "00:10:00";
        config.Reload();
        await h.AdvanceToNextRefreshAsync();

        (h.Cache.Status.NextRefreshAt - h.Cache.Status.LastRefreshedAt).Should().Be(TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task ManyCaches_ListenToTheOptionsMonitorOnce_AndAReloadStillReachesEachOfThem()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Caches:RefreshInterval"] = "00:05:00",
            ["Caches:Jitter"] = "00:00:00",
        }).Build();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var builder = CacheHarness<string>.CreateBuilder(time);
        var names = Enumerable.Range(0, 50).Select(i => $"cache-{i}").ToArray();
        foreach (var name in names)
        {
            builder.Services.AddRefreshingCache(name, (_, _) => ValueTask.FromResult(name));
            builder.Services.Configure<RefreshingCacheOptions>(name, config.GetSection("Caches"));
        }

        // The monitor the caches get, counting the listeners they add: one per cache made N caches quadratic to create and
        // dispose (the monitor keeps its listeners in one multicast delegate, copied at each += and -=).
        builder.Services.AddSingleton<OptionsMonitor<RefreshingCacheOptions>>();
        builder.Services.AddSingleton<IOptionsMonitor<RefreshingCacheOptions>>(sp => new CountingMonitor(sp.GetRequiredService<OptionsMonitor<RefreshingCacheOptions>>()));
        using var host = builder.Build();
        await host.StartAsync();
        var caches = names.Select(n => host.Services.GetRequiredKeyedService<IRefreshingCache<string>>(n)).ToArray();
        foreach (var cache in caches)
        {
            (await cache.GetAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Should().NotBeNull();
        }

        ((CountingMonitor)host.Services.GetRequiredService<IOptionsMonitor<RefreshingCacheOptions>>()).Listeners.Should().Be(1);

        config["Caches:RefreshInterval"] = "00:20:00";
        config.Reload();
        foreach (var cache in caches)
        {
            await cache.RefreshAsync().WaitAsync(TimeSpan.FromSeconds(30));
            (cache.Status.NextRefreshAt - cache.Status.LastRefreshedAt).Should().Be(TimeSpan.FromMinutes(20), "each cache read the reloaded options");
        }

        await host.StopAsync();
    }

    private sealed class CountingMonitor(IOptionsMonitor<RefreshingCacheOptions> inner) : IOptionsMonitor<RefreshingCacheOptions>
    {
        private int _listeners;

        public int Listeners => Volatile.Read(ref _listeners);

        public RefreshingCacheOptions CurrentValue => inner.CurrentValue;

        public RefreshingCacheOptions Get(string? name) => inner.Get(name);

        public IDisposable? OnChange(Action<RefreshingCacheOptions, string?> listener)
        {
            Interlocked.Increment(ref _listeners);
            return inner.OnChange(listener);
        }
    }
}
