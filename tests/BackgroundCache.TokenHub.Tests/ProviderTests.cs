using System.Net;
using BackgroundCache.Samples.TokenHub;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>
/// One hub, one app per provider (WeChat, WeChat Open Platform, OAuth client credentials), each against its emulator, and
/// two clients that each read only their own apps.
/// </summary>
public sealed class ProviderTests : IAsyncLifetime
{
    public const string ComponentAppId = "wx-platform";
    public const string ComponentToken = "platform-token";
    public const string EncodingAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _wechat = null!;
    private OAuthEmulator _oauth = null!;

    public async Task InitializeAsync()
    {
        _wechat = await HubHost.StartEmulatorAsync(_time);
        _wechat.AddComponent(ComponentAppId, "platform-secret", ComponentToken, EncodingAesKey);
        _oauth = await OAuthEmulator.StartAsync();
        _oauth.AddClient("billing", "billing-secret");
    }

    public async Task DisposeAsync()
    {
        await _oauth.DisposeAsync();
        await _wechat.DisposeAsync();
    }

    /// <summary>Apps "wechat", "platform", "oauth"; client "front" reads wechat and platform, client "back" reads oauth.</summary>
    public static Dictionary<string, string?> ThreeProviders(WeChatEmulator wechat, OAuthEmulator oauth) => new()
    {
        ["TokenHub:Apps:wechat:AppId"] = "wx-a",
        ["TokenHub:Apps:wechat:AppSecret"] = "secret-a",
        ["TokenHub:Apps:wechat:BaseAddress"] = wechat.BaseAddress.ToString(),
        ["TokenHub:Apps:wechat:JsApiTicket"] = "true",
        ["TokenHub:Apps:platform:Provider"] = "WeChatOpenPlatform",
        ["TokenHub:Apps:platform:ComponentAppId"] = ComponentAppId,
        ["TokenHub:Apps:platform:ComponentAppSecret"] = "platform-secret",
        ["TokenHub:Apps:platform:Token"] = ComponentToken,
        ["TokenHub:Apps:platform:EncodingAESKey"] = EncodingAesKey,
        ["TokenHub:Apps:platform:BaseAddress"] = wechat.BaseAddress.ToString(),
        ["TokenHub:Apps:oauth:Provider"] = "ClientCredentials",
        ["TokenHub:Apps:oauth:TokenEndpoint"] = oauth.TokenEndpoint.ToString(),
        ["TokenHub:Apps:oauth:ClientId"] = "billing",
        ["TokenHub:Apps:oauth:ClientSecret"] = "billing-secret",
        ["TokenHub:Clients:front:ApiKey"] = "key-front",
        ["TokenHub:Clients:front:Apps:0"] = "wechat",
        ["TokenHub:Clients:front:Apps:1"] = "platform",
        ["TokenHub:Clients:back:ApiKey"] = "key-back",
        ["TokenHub:Clients:back:Apps:0"] = "oauth",
    };

    /// <summary>Pushes a component_verify_ticket and one authorization to the hub's event URL, as WeChat does.</summary>
    internal static async Task PushTicketAndAuthorizeAsync(WeChatEmulator wechat, HubHost hub, string authorizer)
    {
        var events = new Uri(hub.Address, "events/platform");
        (await wechat.PushComponentVerifyTicketAsync(ComponentAppId, events)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await wechat.PushAuthorizedAsync(ComponentAppId, authorizer, events)).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Hub_WithOneAppPerProvider_ServesEachClientItsOwnAppsOnly()
    {
        await using var hub = await HubHost.StartAsync(ThreeProviders(_wechat, _oauth), _time);
        await PushTicketAndAuthorizeAsync(_wechat, hub, "wx-authorizer");

        var wechat = await hub.TokenAsync("wechat", "key-front");
        var component = await hub.TokenAsync("platform", "key-front");
        var authorizer = await hub.TokenAsync("platform/authorizers/wx-authorizer", "key-front");
        var oauth = await hub.TokenAsync("oauth", "key-back");

        _wechat.ValidateAccessToken(wechat).Should().Be(0, "the WeChat app's token is the emulator's");
        _wechat.ValidateAccessToken(authorizer).Should().Be(0, "the authorizer's token is the emulator's");
        component.Should().NotBeNullOrEmpty().And.NotBe(wechat).And.NotBe(authorizer);
        _oauth.TokenCalls("billing").Should().Be(1, "the OAuth app's token came from its token endpoint once");
        oauth.Should().HaveLength(48);

        foreach (var (path, key) in new[] { ("tokens/oauth", "key-front"), ("tokens/wechat", "key-back"), ("tokens/platform", "key-back"), ("tokens/platform/authorizers/wx-authorizer", "key-back"), ("tickets/wechat", "key-back") })
        {
            using var refused = await hub.SendAsync(HttpMethod.Get, path, key);
            refused.StatusCode.Should().Be(HttpStatusCode.Forbidden, $"{path} is not an app of the client with {key}");
        }

        using var unknown = await hub.SendAsync(HttpMethod.Get, "tokens/platform/authorizers/wx-never", "key-front");
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
        using var ticket = await hub.SendAsync(HttpMethod.Get, "tickets/wechat", "key-front");
        ticket.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task BusinessServer_ReadsAnOAuthAppThroughTheHubClient()
    {
        await using var hub = await HubHost.StartAsync(ThreeProviders(_wechat, _oauth), _time);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddLogging();
        services.AddTokenHubAccessToken("oauth", o =>
        {
            o.HubAddress = hub.Address;
            o.ApiKey = "key-back";
        });
        await using var provider = services.BuildServiceProvider();

        var token = await provider.GetRequiredKeyedService<TokenHubTokenSource>("oauth").GetTokenAsync(CancellationToken.None);

        token.Value.Should().Be(await hub.TokenAsync("oauth", "key-back"));
    }

    [Fact]
    public async Task Start_WithAnUnknownProvider_FailsNamingTheSettingAndTheAllowedValues()
    {
        var settings = ThreeProviders(_wechat, _oauth);
        settings["TokenHub:Apps:oauth:Provider"] = "Keycloak";
        await using var app = HubHost.Build(settings, _time);

        var thrown = await StartupTests.StartFailureAsync(app);

        StartupTests.Flatten(thrown).Should().Contain(e => e is OptionsValidationException
            && e.Message.Contains("TokenHub:Apps:oauth:Provider is 'Keycloak'")
            && e.Message.Contains("WeChat, WeChatOpenPlatform, ClientCredentials"));
    }

    [Theory]
    [InlineData("TokenHub:Apps:oauth:ClientSecret", "TokenHub:Apps:oauth:ClientSecret is required outside Development")]
    [InlineData("TokenHub:Apps:platform:ComponentAppSecret", "TokenHub:Apps:platform:ComponentAppSecret is required outside Development")]
    [InlineData("TokenHub:Apps:oauth:ClientId", "TokenHub:Apps:oauth:ClientId is required")]
    public async Task Start_InProductionWithoutAProvidersSecret_FailsNamingIt(string setting, string expected)
    {
        var settings = ThreeProviders(_wechat, _oauth);
        settings.Remove(setting);
        await using var app = HubHost.Build(settings, _time);

        var thrown = await StartupTests.StartFailureAsync(app);

        StartupTests.Flatten(thrown).Should().Contain(e => e is OptionsValidationException && e.Message.Contains(expected));
    }

    [Fact]
    public async Task Start_InProductionWithAnEmulatedOAuthApp_FailsUnlessUseEmulator()
    {
        var settings = ThreeProviders(_wechat, _oauth);
        settings.Remove("TokenHub:Apps:oauth:ClientSecret");
        await using var app = HubHost.Build(settings, _time, configure: (_, hub) => hub.WithEmulatedApp("oauth", _oauth.TokenEndpoint, "billing-secret"));

        var thrown = await StartupTests.StartFailureAsync(app);

        StartupTests.Flatten(thrown).Should().Contain(e => e is OptionsValidationException && e.Message.Contains("App 'oauth' is served by an emulator") && e.Message.Contains("TokenHub:UseEmulator=true"));
    }
}
