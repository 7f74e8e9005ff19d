using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

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
}
