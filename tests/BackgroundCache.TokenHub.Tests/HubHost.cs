using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>
/// A hub built on the package in an app of its own (real Kestrel on 127.0.0.1, port 0), with only the settings given here;
/// its apps' tokens come from a <see cref="WeChatEmulator"/> on loopback, as from WeChat (with their AppSecret).
/// </summary>
internal sealed class HubHost : IAsyncDisposable
{
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private HubHost(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Http { get; } = new() { Timeout = Guard };

    /// <summary>Two apps ("a", "b"; "a" keeps a JS-SDK ticket) and three clients: ca reads a; cb (two keys) reads b; all reads every app.</summary>
    public static Dictionary<string, string?> TwoAppsThreeClients(WeChatEmulator emulator, string mode = "Token") => new()
    {
        ["TokenHub:Apps:a:AppId"] = "wx-a",
        ["TokenHub:Apps:a:AppSecret"] = "secret-a",
        ["TokenHub:Apps:a:BaseAddress"] = emulator.BaseAddress.ToString(),
        ["TokenHub:Apps:a:Mode"] = mode,
        ["TokenHub:Apps:a:JsApiTicket"] = "true",
        ["TokenHub:Apps:b:AppId"] = "wx-b",
        ["TokenHub:Apps:b:AppSecret"] = "secret-b",
        ["TokenHub:Apps:b:BaseAddress"] = emulator.BaseAddress.ToString(),
        ["TokenHub:Apps:b:Mode"] = mode,
        ["TokenHub:Clients:ca:ApiKey"] = "key-a",
        ["TokenHub:Clients:ca:Apps:0"] = "a",
        ["TokenHub:Clients:cb:ApiKey"] = "key-b1",
        ["TokenHub:Clients:cb:ApiKeys:0"] = "key-b2",
        ["TokenHub:Clients:cb:Apps:0"] = "b",
        ["TokenHub:Clients:all:ApiKey"] = "key-all",
        ["TokenHub:Clients:all:Apps:0"] = "*",
    };

    public static async Task<WeChatEmulator> StartEmulatorAsync(TimeProvider time)
    {
        var options = new WeChatEmulatorOptions { TimeProvider = time };
        options.Apps["wx-a"] = "secret-a";
        options.Apps["wx-b"] = "secret-b";
        return await WeChatEmulator.StartAsync(options);
    }

    public static WebApplication Build(Dictionary<string, string?> settings, TimeProvider time, string environment = "Production", Action<WebApplicationBuilder, TokenHubBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = environment });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings)
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.Services.AddSingleton(time);
        var hub = builder.Services.AddTokenHub(builder.Configuration.GetSection("TokenHub"));
        configure?.Invoke(builder, hub);
        var app = builder.Build();
        app.MapTokenHub();
        return app;
    }

    public static async Task<HubHost> StartAsync(Dictionary<string, string?> settings, TimeProvider time, string environment = "Production", Action<WebApplicationBuilder, TokenHubBuilder>? configure = null)
    {
        var app = Build(settings, time, environment, configure);
        using var cts = new CancellationTokenSource(Guard);
        await app.StartAsync(cts.Token);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new HubHost(app, new Uri(address.TrimEnd('/') + "/"));
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? key, object? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(Address, path));
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return await Http.SendAsync(request);
    }

    public async Task<JsonElement> GetJsonAsync(string path, string? key)
    {
        using var response = await SendAsync(HttpMethod.Get, path, key);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<string> TokenAsync(string app, string key) =>
        (await GetJsonAsync($"tokens/{app}", key)).GetProperty("access_token").GetString()!;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var cts = new CancellationTokenSource(Guard);
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
    }
}
