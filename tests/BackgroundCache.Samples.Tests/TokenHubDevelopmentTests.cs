using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.Samples.TokenHub;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Samples.Tests;

/// <summary>
/// The sample hub with its own <c>appsettings.Development.json</c> (what <c>dotnet run</c> starts): one app per provider,
/// each against an in-process emulator, no secret and no network.
/// </summary>
public sealed class TokenHubDevelopmentTests : IAsyncLifetime
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private WebApplication _hub = null!;
    private Uri _address = null!;

    public async Task InitializeAsync()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "BackgroundCache.sln")))
        {
            root = root.Parent!;
        }

        var development = Path.Combine(root.FullName, "samples", "BackgroundCache.Samples.TokenHub", "appsettings.Development.json");
        _hub = await TokenHubApp.BuildAsync(["--environment", "Development"], configure: b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddJsonFile(development);
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["TokenHub:EmulatorPort"] = "0",
                ["Logging:LogLevel:Default"] = "Warning",
            });
        });
        await _hub.StartAsync();
        var address = _hub.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _address = new Uri(address.TrimEnd('/') + "/");
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _hub.StopAsync();
        await _hub.DisposeAsync();
    }

    [Fact]
    public async Task DevelopmentConfiguration_ServesOneEmulatedAppPerProvider()
    {
        var status = await GetAsync("status.json");
        status.GetProperty("apps").EnumerateArray().Select(a => (a.GetProperty("name").GetString(), a.GetProperty("provider").GetString(), a.GetProperty("emulated").GetBoolean()))
            .Should().BeEquivalentTo(new[]
            {
                ("billing", "ClientCredentials", true), ("demo", "WeChat", true), ("platform", "WeChatOpenPlatform", true),
                ("office", "WeCom", true), ("chat", "Feishu", true), ("crm", "DingTalk", true), ("shop", "Douyin", true),
            });

        foreach (var path in new[]
        {
            "tokens/demo", "tickets/demo", "tokens/billing", "tokens/platform", "tokens/platform/authorizers/wx00000authorizer01",
            "tokens/office", "tickets/office", "tokens/chat", "tokens/crm", "tokens/shop",
        })
        {
            // The emulator pushes the platform's ticket and authorization once the hub listens: wait for them.
            var answer = await EventuallyOkAsync(path);
            answer.GetProperty("emulated").GetBoolean().Should().BeTrue(path);
        }
    }

    [Fact]
    public async Task DevelopmentConfiguration_SecondClient_ReadsOnlyItsOwnApps_AndSignsPages()
    {
        (await SendAsync(HttpMethod.Get, "tokens/shop", "storefront-dev-key")).Should().Be(HttpStatusCode.OK);
        (await SendAsync(HttpMethod.Get, "tokens/demo", "storefront-dev-key")).Should().Be(HttpStatusCode.OK);
        (await SendAsync(HttpMethod.Post, "tickets/demo/signature", "storefront-dev-key", new { url = "https://shop.example.com/cart#top" })).Should().Be(HttpStatusCode.OK);
        foreach (var path in new[] { "tokens/office", "tokens/chat", "tokens/crm", "tokens/billing", "tokens/platform" })
        {
            (await SendAsync(HttpMethod.Get, path, "storefront-dev-key")).Should().Be(HttpStatusCode.Forbidden, path);
        }

        (await SendAsync(HttpMethod.Post, "tickets/office/signature", "dev-key", new { url = "https://office.example.com/" })).Should().Be(HttpStatusCode.OK, "WeCom's corp ticket signs pages too");
    }

    private async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string key, object? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(_address, path));
        request.Headers.Add("X-Api-Key", key);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    private async Task<JsonElement> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_address, path));
        request.Headers.Add("X-Api-Key", "dev-key");
        using var response = await _http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.OK, path);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> EventuallyOkAsync(string path)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_address, path));
            request.Headers.Add("X-Api-Key", "dev-key");
            using var response = await _http.SendAsync(request, guard.Token);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return await response.Content.ReadFromJsonAsync<JsonElement>();
            }

            await Task.Yield(); // as the other tests that wait for the hub: no timed wait, the guard bounds it
        }
    }
}
