using BackgroundCache.Samples.BusinessServer;
using BackgroundCache.Samples.TokenHub;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Samples.Tests;

/// <summary>
/// Starts the sample apps in-process on loopback ports (real Kestrel, real HTTP) with settings given here, not the
/// samples' appsettings files.
/// </summary>
internal static class SampleHosts
{
    public const string ApiKey = "test-key";

    public static async Task<(WebApplication App, Uri Address, WeChatEmulator Emulator)> StartHubAsync(
        FakeTimeProvider time,
        string mode = "StableToken",
        Dictionary<string, string?>? extra = null,
        Action<WeChatEmulator>? beforeStart = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["TokenHub:Clients:test:ApiKey"] = ApiKey,
            ["TokenHub:Clients:test:Apps:0"] = "*",
            ["TokenHub:UseEmulator"] = "true",
            ["TokenHub:EmulatorPort"] = "0",
            ["TokenHub:Apps:demo:AppId"] = "wx00000000demo0001",
            ["TokenHub:Apps:demo:Mode"] = mode,
            ["TokenHub:Apps:demo:JsApiTicket"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var app = await TokenHubApp.BuildAsync([], time, b => UseOnly(b.Configuration, settings));
        var emulator = app.Services.GetRequiredService<WeChatEmulator>();
        beforeStart?.Invoke(emulator);
        await app.StartAsync();
        return (app, AddressOf(app.Services), emulator);
    }

    public static async Task<(WebApplication App, Uri Address)> StartBusinessServerAsync(TimeProvider time, Uri hub, Uri wechat)
    {
        var settings = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["TokenHub:Address"] = hub.ToString(),
            ["TokenHub:ApiKey"] = ApiKey,
            ["TokenHub:TokenName"] = "demo",
            ["WeChat:BaseAddress"] = wechat.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var app = BusinessServerApp.Build([], b =>
        {
            UseOnly(b.Configuration, settings);
            b.Services.AddSingleton(time);
        });
        await app.StartAsync();
        return (app, AddressOf(app.Services));
    }

    private static void UseOnly(ConfigurationManager configuration, Dictionary<string, string?> settings)
    {
        configuration.Sources.Clear();
        configuration.AddInMemoryCollection(settings);
    }

    private static Uri AddressOf(IServiceProvider services)
    {
        var address = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }
}
