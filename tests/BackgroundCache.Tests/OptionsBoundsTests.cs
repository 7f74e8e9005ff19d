using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Tests;

/// <summary>
/// A bare number in configuration binds as days: <c>"RefreshInterval": "15"</c> is 15 days. Values beyond sane bounds fail
/// start with a message that names the setting, the bound and the format (issue #11, item 9).
/// </summary>
public sealed class OptionsBoundsTests
{
    [Theory]
    [InlineData("RefreshInterval", "15", "1 day")]
    [InlineData("RefreshBeforeExpiry", "5", "1 day")]
    [InlineData("Jitter", "30", "1 day")]
    [InlineData("FetchTimeout", "30", "1 hour")]
    [InlineData("RetryInitialDelay", "1", "1 hour")]
    [InlineData("RetryMaxDelay", "60", "1 day")]
    [InlineData("InitialLoadTimeout", "30", "1 hour")]
    public async Task StartAsync_BareNumberBoundAsDays_FailsNamingTheSettingTheBoundAndTheFormat(string setting, string configured, string bound)
    {
        var values = new Dictionary<string, string?> { [$"Caches:rates:{setting}"] = configured };
        if (setting == "RetryInitialDelay")
        {
            values["Caches:rates:RetryMaxDelay"] = "1.00:00:00"; // keeps RetryMaxDelay >= RetryInitialDelay: one failure only
        }

        var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>("rates", (_, _) => ValueTask.FromResult("v"));
        builder.Services.AddOptions<RefreshingCacheOptions>("rates").Bind(config.GetSection("Caches:rates"));
        using var host = builder.Build();

        var act = () => host.StartAsync();

        var thrown = await act.Should().ThrowAsync<OptionsValidationException>();
        thrown.Which.Failures.Should().ContainSingle().Which.Should()
            .Contain($"RefreshingCacheOptions.{setting} must be at most {bound}")
            .And.Contain("'rates'")
            .And.Contain($"value {configured}.00:00:00")
            .And.Contain("\"00:00:15\" for 15 seconds");
    }

    [Fact]
    public async Task StartAsync_DurationsWrittenAsTimeSpans_Start()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Caches:rates:RefreshInterval"] = "1.00:00:00",
            ["Caches:rates:RefreshBeforeExpiry"] = "00:05:00",
            ["Caches:rates:Jitter"] = "00:00:30",
            ["Caches:rates:FetchTimeout"] = "01:00:00",
            ["Caches:rates:RetryInitialDelay"] = "00:00:01",
            ["Caches:rates:RetryMaxDelay"] = "1.00:00:00",
            ["Caches:rates:InitialLoadTimeout"] = "00:00:30",
            ["Caches:rates:MaxStaleness"] = "30.00:00:00",
        }).Build();
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>("rates", (_, _) => ValueTask.FromResult("v"));
        builder.Services.AddOptions<RefreshingCacheOptions>("rates").Bind(config.GetSection("Caches:rates"));
        using var host = builder.Build();

        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptionsMonitor<RefreshingCacheOptions>>().Get("rates");
        options.RefreshInterval.Should().Be(TimeSpan.FromDays(1));
        options.MaxStaleness.Should().Be(TimeSpan.FromDays(30), "MaxStaleness has no upper bound: serving a stale value for days is a choice");
        await host.StopAsync();
    }
}
