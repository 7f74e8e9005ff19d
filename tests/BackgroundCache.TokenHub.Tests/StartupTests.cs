using System.Net;
using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

public sealed class StartupTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await HubHost.StartEmulatorAsync(_time);

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    public static TheoryData<string, string?, string> ProductionRefusals => new()
    {
        { "TokenHub:Clients", null, "TokenHub:Clients must configure at least one client" },
        { "TokenHub:Apps:a:AppSecret", null, "TokenHub:Apps:a:AppSecret is required outside Development" },
        { "TokenHub:Clients:ca:ApiKey", null, "TokenHub:Clients:ca:ApiKey (or :ApiKeys) is required" },
        { "TokenHub:Clients:ca:ApiKey", TokenHubServerOptions.DevelopmentApiKey, "well-known Development key" },
        { "TokenHub:Clients:ca:ApiKey", "key-all", "every key must belong to one client" },
        { "TokenHub:Clients:ca:Apps:0", "shop-z", "TokenHub:Clients:ca:Apps names 'shop-z'" },
        { "TokenHub:Apps:b:AppId", null, "TokenHub:Apps:b:AppId is required" },
        { "TokenHub:InvalidationPermitLimit", "0", "TokenHub:InvalidationPermitLimit must be greater than zero" },
        { "TokenHub:ApiKeys:0", "old-shared-key", "TokenHub:ApiKeys is no longer read" },
    };

    [Theory]
    [MemberData(nameof(ProductionRefusals))]
    public async Task Start_InProductionWithAMissingOrUnsafeSetting_FailsNamingIt(string setting, string? value, string expected)
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        if (setting == "TokenHub:Clients")
        {
            foreach (var key in settings.Keys.Where(k => k.StartsWith("TokenHub:Clients:", StringComparison.Ordinal)).ToList())
            {
                settings.Remove(key);
            }
        }
        else if (value is null)
        {
            settings.Remove(setting);
        }
        else
        {
            settings[setting] = value;
        }

        await using var app = HubHost.Build(settings, _time);

        var thrown = await StartFailureAsync(app);

        Flatten(thrown).Should().Contain(e => e is OptionsValidationException && e.Message.Contains(expected));
    }

    [Fact]
    public async Task Start_InProductionWithAnEmulatedApp_FailsUnlessUseEmulator()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        await using var app = HubHost.Build(settings, _time, configure: (_, hub) => hub.WithEmulatedApp("a", _emulator.BaseAddress, "secret-a"));

        var thrown = await StartFailureAsync(app);

        Flatten(thrown).Should().Contain(e => e is OptionsValidationException && e.Message.Contains("TokenHub:UseEmulator=true"));
    }

    [Fact]
    public async Task Start_InProductionWithUseEmulator_ServesTheEmulatedAppAndFlagsEveryAnswer()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings["TokenHub:UseEmulator"] = "true";
        await using var hub = await HubHost.StartAsync(settings, _time, configure: (_, hub) => hub.WithEmulatedApp("a", _emulator.BaseAddress, "secret-a"));

        using var token = await hub.SendAsync(HttpMethod.Get, "tokens/a", "key-a");
        using var ticket = await hub.SendAsync(HttpMethod.Get, "tickets/a", "key-a");
        using var real = await hub.SendAsync(HttpMethod.Get, "tokens/b", "key-b1");
        var status = await hub.GetJsonAsync("status.json", null);
        var health = await hub.GetJsonAsync("health", null);

        token.Headers.GetValues("X-TokenHub-Emulated").Should().Equal("true");
        JsonDocument.Parse(await token.Content.ReadAsStringAsync()).RootElement.GetProperty("emulated").GetBoolean().Should().BeTrue();
        JsonDocument.Parse(await ticket.Content.ReadAsStringAsync()).RootElement.GetProperty("emulated").GetBoolean().Should().BeTrue();
        real.Headers.Contains("X-TokenHub-Emulated").Should().BeFalse();
        JsonDocument.Parse(await real.Content.ReadAsStringAsync()).RootElement.TryGetProperty("emulated", out _).Should().BeFalse();
        status.GetProperty("apps").EnumerateArray().Select(a => (a.GetProperty("name").GetString(), a.GetProperty("emulated").GetBoolean()))
            .Should().Equal(("a", true), ("b", false));
        health.GetProperty("emulated_apps").EnumerateArray().Select(a => a.GetString()).Should().Equal("a");
    }

    [Fact]
    public async Task Start_InDevelopmentWithoutClients_AddsClientDevWithDevKeyForEveryApp()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        foreach (var key in settings.Keys.Where(k => k.StartsWith("TokenHub:Clients:", StringComparison.Ordinal)).ToList())
        {
            settings.Remove(key);
        }

        await using var hub = await HubHost.StartAsync(settings, _time, environment: "Development");

        using var a = await hub.SendAsync(HttpMethod.Get, "tokens/a", TokenHubServerOptions.DevelopmentApiKey);
        using var b = await hub.SendAsync(HttpMethod.Get, "tokens/b", TokenHubServerOptions.DevelopmentApiKey);
        using var none = await hub.SendAsync(HttpMethod.Get, "tokens/a", null);
        a.StatusCode.Should().Be(HttpStatusCode.OK);
        b.StatusCode.Should().Be(HttpStatusCode.OK);
        none.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Start_InDevelopmentWithClients_DoesNotAcceptTheDevKey()
    {
        await using var hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(_emulator), _time, environment: "Development");

        using var response = await hub.SendAsync(HttpMethod.Get, "tokens/a", TokenHubServerOptions.DevelopmentApiKey);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Health_ListsTheHubsCachesOnly_NotTheRestOfTheHostsChecks()
    {
        await using var hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(_emulator), _time, configure: (b, _) =>
            b.Services.AddHealthChecks().AddCheck("host-database", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy()));
        await hub.TokenAsync("a", "key-all");
        await hub.TokenAsync("b", "key-all");
        await hub.GetJsonAsync("tickets/a", "key-all");

        var health = await hub.GetJsonAsync("health", null);

        health.GetProperty("status").GetString().Should().Be("Healthy");
        health.GetProperty("caches").EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo("token:a", "jsapi_ticket:a", "token:b", "quota:a", "quota:b");
    }

    [Fact]
    public async Task EmbedSnippet_InADevelopmentAppWithNoApps_StartsAndItsPageAndHealthSayNoAppIsConfigured()
    {
        // docs/token-hub.md's Embed block in `dotnet new web` (Development, no TokenHub section), under /wechat-hub.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["urls"] = "http://127.0.0.1:0" });
        builder.Services.AddTokenHub(builder.Configuration.GetSection("TokenHub"));
        await using var app = builder.Build();
        app.MapGroup("/wechat-hub").MapTokenHub();
        await app.StartAsync();
        var address = app.Urls.First().TrimEnd('/');
        using var http = new HttpClient();

        using var health = await http.GetAsync(new Uri(address + "/wechat-hub/health"));
        var page = await http.GetStringAsync(new Uri(address + "/wechat-hub/"));
        var status = JsonDocument.Parse(await http.GetStringAsync(new Uri(address + "/wechat-hub/status.json"))).RootElement;

        health.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        var check = JsonDocument.Parse(await health.Content.ReadAsStringAsync()).RootElement.GetProperty("caches").GetProperty("token-hub:apps");
        check.GetProperty("status").GetString().Should().Be("Unhealthy");
        check.GetProperty("description").GetString().Should().StartWith("No app is configured").And.Contain("TokenHub:Apps");
        page.Should().Contain("No app is configured: add one under TokenHub:Apps");
        status.GetProperty("notice").GetString().Should().Contain("TokenHub:Apps");
        status.GetProperty("apps").GetArrayLength().Should().Be(0);
        await app.StopAsync();
    }

    [Fact]
    public async Task Start_InProductionWithNoApps_FailsNamingTokenHubApps()
    {
        var settings = new Dictionary<string, string?> { ["TokenHub:Clients:ca:ApiKey"] = "key-a", ["TokenHub:Clients:ca:Apps:0"] = "*" };
        await using var app = HubHost.Build(settings, _time);

        var thrown = await StartFailureAsync(app);

        Flatten(thrown).Should().ContainSingle(e => e is OptionsValidationException)
            .Which.Message.Should().Contain("TokenHub:Apps must list at least one WeChat app outside Development");
    }

    [Fact]
    public void AddTokenHub_Twice_Throws()
    {
        var services = new ServiceCollection();
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build();
        services.AddTokenHub(configuration);

        var act = () => services.AddTokenHub(configuration);

        act.Should().Throw<InvalidOperationException>().WithMessage("*already*");
    }

    [Fact]
    public void MapTokenHub_WithoutAddTokenHub_ThrowsNamingIt()
    {
        var app = WebApplication.CreateBuilder().Build();

        var act = () => app.MapTokenHub();

        act.Should().Throw<InvalidOperationException>().WithMessage("*AddTokenHub*");
    }

    internal static async Task<Exception> StartFailureAsync(WebApplication app)
    {
        try
        {
            await app.StartAsync();
        }
        catch (Exception e)
        {
            return e;
        }

        throw new InvalidOperationException("The hub started.");
    }

    internal static IEnumerable<Exception> Flatten(Exception e) =>
        e is AggregateException aggregate ? aggregate.InnerExceptions.SelectMany(Flatten) : [e];
}
