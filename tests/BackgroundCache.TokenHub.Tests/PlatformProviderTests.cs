using System.Net;
using BackgroundCache.DingTalk.Testing;
using BackgroundCache.Douyin.Testing;
using BackgroundCache.Feishu.Testing;
using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeCom.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>The hub with one app of each platform provider (WeCom, Feishu, DingTalk, Douyin), each against its emulator.</summary>
public sealed class PlatformProviderTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 16, 0, 0, TimeSpan.Zero));
    private WeComEmulator _wecom = null!;
    private FeishuEmulator _feishu = null!;
    private DingTalkEmulator _dingtalk = null!;
    private DouyinEmulator _douyin = null!;

    public async Task InitializeAsync()
    {
        _wecom = await WeComEmulator.StartAsync(new WeComEmulatorOptions { TimeProvider = _time });
        _wecom.AddApp("ww-corp", "corp-secret", 1000002);
        var feishu = new FeishuEmulatorOptions { TimeProvider = _time };
        feishu.Apps["cli_app"] = "feishu-secret";
        _feishu = await FeishuEmulator.StartAsync(feishu);
        _dingtalk = await DingTalkEmulator.StartAsync(new DingTalkEmulatorOptions { TimeProvider = _time });
        _dingtalk.AddApp("ding-key", "ding-secret");
        _douyin = await DouyinEmulator.StartAsync(new DouyinEmulatorOptions { TimeProvider = _time });
        _douyin.AddApp("aw-key", "douyin-secret");
    }

    public async Task DisposeAsync()
    {
        await _wecom.DisposeAsync();
        await _feishu.DisposeAsync();
        await _dingtalk.DisposeAsync();
        await _douyin.DisposeAsync();
    }

    private Dictionary<string, string?> FourPlatforms() => new()
    {
        ["TokenHub:Apps:hr:Provider"] = "WeCom",
        ["TokenHub:Apps:hr:CorpId"] = "ww-corp",
        ["TokenHub:Apps:hr:CorpSecret"] = "corp-secret",
        ["TokenHub:Apps:hr:AgentId"] = "1000002",
        ["TokenHub:Apps:hr:JsApiTicket"] = "true",
        ["TokenHub:Apps:hr:BaseAddress"] = _wecom.BaseAddress.ToString(),
        ["TokenHub:Apps:ops:Provider"] = "Feishu",
        ["TokenHub:Apps:ops:AppId"] = "cli_app",
        ["TokenHub:Apps:ops:AppSecret"] = "feishu-secret",
        ["TokenHub:Apps:ops:BaseAddress"] = _feishu.BaseAddress.ToString(),
        ["TokenHub:Apps:crm:Provider"] = "DingTalk",
        ["TokenHub:Apps:crm:AppKey"] = "ding-key",
        ["TokenHub:Apps:crm:AppSecret"] = "ding-secret",
        ["TokenHub:Apps:crm:BaseAddress"] = _dingtalk.BaseAddress.ToString(),
        ["TokenHub:Apps:crm:LegacyBaseAddress"] = _dingtalk.BaseAddress.ToString(),
        ["TokenHub:Apps:shop:Provider"] = "Douyin",
        ["TokenHub:Apps:shop:ClientKey"] = "aw-key",
        ["TokenHub:Apps:shop:ClientSecret"] = "douyin-secret",
        ["TokenHub:Apps:shop:BaseAddress"] = _douyin.BaseAddress.ToString(),
        ["TokenHub:Clients:office:ApiKey"] = "key-office",
        ["TokenHub:Clients:office:Apps:0"] = "hr",
        ["TokenHub:Clients:office:Apps:1"] = "ops",
        ["TokenHub:Clients:sales:ApiKey"] = "key-sales",
        ["TokenHub:Clients:sales:Apps:0"] = "crm",
        ["TokenHub:Clients:sales:Apps:1"] = "shop",
    };

    [Fact]
    public async Task Hub_WithOneAppPerPlatform_ServesEachClientItsOwnApps_AndCountsTheirCalls()
    {
        await using var hub = await HubHost.StartAsync(FourPlatforms(), _time);

        var wecom = await hub.TokenAsync("hr", "key-office");
        var feishu = await hub.TokenAsync("ops", "key-office");
        var dingtalk = await hub.TokenAsync("crm", "key-sales");
        var douyin = await hub.TokenAsync("shop", "key-sales");

        _wecom.ValidateAccessToken(wecom).Should().Be(0);
        _feishu.IsValid(feishu).Should().BeTrue();
        _dingtalk.IsValid(dingtalk).Should().BeTrue();
        _douyin.IsValid(douyin).Should().BeTrue();
        foreach (var (path, key) in new[] { ("tokens/crm", "key-office"), ("tokens/shop", "key-office"), ("tokens/hr", "key-sales"), ("tokens/ops", "key-sales") })
        {
            using var refused = await hub.SendAsync(HttpMethod.Get, path, key);
            refused.StatusCode.Should().Be(HttpStatusCode.Forbidden, path);
        }

        // WeCom's JS-SDK ticket signs pages too.
        using var signature = await hub.SendAsync(HttpMethod.Post, "tickets/hr/signature", "key-office", new { url = "https://hr.example.com/#/home" });
        signature.StatusCode.Should().Be(HttpStatusCode.OK);

        var ledger = hub.App.Services.GetRequiredService<QuotaLedger>();
        long Used(string app, string window) => ledger.Use(app).Single(u => u.Window.Name == window).Used;
        Used("hr", "hour").Should().Be(_wecom.GetTokenCalls);
        Used("ops", "day").Should().Be(_feishu.InternalTokenCalls);
        Used("crm", "day").Should().Be(_dingtalk.TokenCalls);
        Used("shop", "five_minutes").Should().Be(_douyin.ClientTokenCalls);
        ledger.Use("shop").Single(u => u.Window.Name == "five_minutes").Limit.Should().Be(500, "Douyin allows 500 client_token calls per 5 minutes");
    }

    [Theory]
    [InlineData("TokenHub:Apps:hr:CorpSecret", "TokenHub:Apps:hr:CorpSecret is required outside Development")]
    [InlineData("TokenHub:Apps:ops:AppSecret", "TokenHub:Apps:ops:AppSecret is required outside Development")]
    [InlineData("TokenHub:Apps:crm:AppKey", "TokenHub:Apps:crm:AppKey (or :ClientId) is required")]
    [InlineData("TokenHub:Apps:shop:ClientSecret", "TokenHub:Apps:shop:ClientSecret is required outside Development")]
    public async Task Start_InProductionWithoutAPlatformSetting_FailsNamingIt(string setting, string expected)
    {
        var settings = FourPlatforms();
        settings.Remove(setting);
        await using var app = HubHost.Build(settings, _time);

        var thrown = await StartupTests.StartFailureAsync(app);

        StartupTests.Flatten(thrown).Should().Contain(e => e.Message.Contains(expected));
    }
}
