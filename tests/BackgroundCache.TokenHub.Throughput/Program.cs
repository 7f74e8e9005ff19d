using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.TokenHub.Throughput;

/// <summary>
/// Serves, side by side in one process, the token hub (the package, Production settings: one client, one app with its
/// AppSecret, tokens from a loopback WeChat emulator) on port 5180 and the floor: a bare Kestrel minimal-API endpoint on
/// port 5181 that returns a constant JSON of exactly the hub's answer size. <c>hub-wrk.sh</c> drives both with wrk; run it from there.
/// </summary>
public static class Program
{
    public const string ApiKey = "bench-key-0123456789abcdef";

    public static async Task Main(string[] args)
    {
        var hubPort = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5180;
        var barePort = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5181;
        var emulatorOptions = new WeChatEmulatorOptions();
        emulatorOptions.Apps["wx-bench"] = "bench-secret";
        await using var emulator = await WeChatEmulator.StartAsync(emulatorOptions);

        var hubBuilder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        hubBuilder.Configuration.Sources.Clear();
        hubBuilder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = $"http://127.0.0.1:{hubPort}",
            ["TokenHub:Apps:demo:AppId"] = "wx-bench",
            ["TokenHub:Apps:demo:AppSecret"] = "bench-secret",
            ["TokenHub:Apps:demo:BaseAddress"] = emulator.BaseAddress.ToString(),
            ["TokenHub:Clients:bench:ApiKey"] = ApiKey,
            ["TokenHub:Clients:bench:Apps:0"] = "demo",
            ["TokenHub:Clients:other:ApiKey"] = "other-key-0123456789abcdef",
            ["TokenHub:Clients:other:Apps:0"] = "demo",
        });
        hubBuilder.Logging.ClearProviders();
        hubBuilder.Services.AddTokenHub(hubBuilder.Configuration.GetSection("TokenHub"));
        await using var hub = hubBuilder.Build();
        hub.MapTokenHub();
        await hub.StartAsync();

        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{hubPort}/tokens/demo");
        request.Headers.Add("X-Api-Key", ApiKey);
        using var response = await http.SendAsync(request);
        var answer = await response.Content.ReadAsStringAsync();

        // The floor: the same bytes, constant, from the leanest endpoint ASP.NET Core offers with minimal APIs.
        var bareBuilder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        bareBuilder.WebHost.UseUrls($"http://127.0.0.1:{barePort}");
        bareBuilder.Logging.ClearProviders();
        await using var bare = bareBuilder.Build();
        bare.MapGet("/tokens/{name}", () => Results.Text(answer, "application/json; charset=utf-8"));
        await bare.StartAsync();

        Console.WriteLine($"hub:  http://127.0.0.1:{hubPort}/tokens/demo (header X-Api-Key: {ApiKey}), {response.StatusCode}, body {System.Text.Encoding.UTF8.GetByteCount(answer)} bytes");
        Console.WriteLine($"bare: http://127.0.0.1:{barePort}/tokens/demo, constant body {System.Text.Encoding.UTF8.GetByteCount(answer)} bytes");
        Console.WriteLine("ready");
        await hub.WaitForShutdownAsync(); // Ctrl+C or SIGTERM (the host's console lifetime)
        await bare.StopAsync();
        await hub.StopAsync();
    }
}
