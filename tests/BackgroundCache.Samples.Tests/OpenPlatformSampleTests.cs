using System.Net;
using System.Text.Json;
using BackgroundCache.Samples.OpenPlatform;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Samples.Tests;

public sealed class OpenPlatformSampleTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task OfflineDemo_EmulatorPushesTicketAndAuthorizations_StatusShowsTheAuthorizers()
    {
        await using var app = await OpenPlatformApp.BuildAsync([], configure: b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["WeChat:Open:ComponentAppId"] = "wx0000000platform01",
                ["OpenPlatformSample:DemoAuthorizers:0"] = "wxdemo00000000001",
                ["OpenPlatformSample:DemoAuthorizers:1"] = "wxdemo00000000002",
                ["Logging:LogLevel:Default"] = "Warning",
            });
        });
        await app.StartAsync();
        var platform = app.Services.GetRequiredKeyedService<WeChatOpenPlatform>(OpenPlatformApp.PlatformName);
        var emulator = app.Services.GetRequiredService<WeChatEmulator>();

        // The driver pushes after start; wait for its effect (a real signal: the set holding both authorizers' tokens).
        using var cts = new CancellationTokenSource(Guard);
        while (!(platform.Authorizers.TryGetValue("wxdemo00000000001", out _) && platform.Authorizers.TryGetValue("wxdemo00000000002", out _)))
        {
            await Task.Yield();
            cts.Token.ThrowIfCancellationRequested();
        }

        using var http = new HttpClient { BaseAddress = AddressOf(app) };
        using var status = JsonDocument.Parse(await http.GetStringAsync(new Uri("/", UriKind.Relative)));
        var health = await http.GetAsync(new Uri("/health", UriKind.Relative));
        var root = status.RootElement;

        root.GetProperty("platform").GetString().Should().Be("wx0000000platform01");
        root.GetProperty("componentToken").GetProperty("state").GetString().Should().Be("Fresh");
        root.GetProperty("authorizerCount").GetInt32().Should().Be(2);
        root.GetProperty("authorizers").EnumerateArray().Select(a => a.GetProperty("appId").GetString()).Should().Equal("wxdemo00000000001", "wxdemo00000000002");
        root.GetProperty("authorizers").EnumerateArray().Should().OnlyContain(a => a.GetProperty("token").GetProperty("fingerprint").GetString()!.Length > 0);
        health.StatusCode.Should().Be(HttpStatusCode.OK);
        var menu = await http.GetAsync(new Uri("/menu/wxdemo00000000001", UriKind.Relative));
        var unknown = await http.GetAsync(new Uri("/menu/wxnotauthorized0001", UriKind.Relative));
        menu.StatusCode.Should().Be(HttpStatusCode.OK);
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await unknown.Content.ReadAsStringAsync()).Should().Contain("is not an authorized account of third-party platform");
        platform.Authorizers.TryGetValue("wxdemo00000000001", out var token).Should().BeTrue();
        emulator.ValidateAccessToken(token!.Value).Should().Be(0);
        status.RootElement.GetRawText().Should().NotContain(token.Value);
        await app.StopAsync();
    }

    private static Uri AddressOf(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/') + "/");
}
