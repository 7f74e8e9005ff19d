using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.WeChat.Tests;

/// <summary>
/// The emulator over raw HTTP, independent of the client under test.
/// </summary>
public sealed class WeChatEmulatorTests : IAsyncLifetime
{
    private const string AppId = "wxapp";
    private const string Secret = "app-secret";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 1, 0, 0, TimeSpan.Zero));
    private readonly HttpClient _http = new();
    private WeChatEmulator _emulator = null!;
    private WeChatEmulatorOptions _options = null!;

    public async Task InitializeAsync()
    {
        _options = new WeChatEmulatorOptions { TimeProvider = _time, ClassicDailyQuota = 5 };
        _options.Apps[AppId] = Secret;
        _emulator = await WeChatEmulator.StartAsync(_options);
        _http.BaseAddress = _emulator.BaseAddress;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _emulator.DisposeAsync();
    }

    [Fact]
    public async Task ClassicToken_SecondCall_InvalidatesFirstAfterTheOverlap()
    {
        var first = await ClassicAsync();
        var second = await ClassicAsync();

        _emulator.ValidateAccessToken(first).Should().Be(0, "the previous token stays valid during the overlap");
        _time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        _emulator.ValidateAccessToken(first).Should().Be(0);
        _time.Advance(TimeSpan.FromSeconds(1));
        _emulator.ValidateAccessToken(first).Should().Be(40001);
        _emulator.ValidateAccessToken(second).Should().Be(0);
        (await ProbeAsync(first)).GetProperty("errcode").GetInt32().Should().Be(40001);
        (await ProbeAsync(second)).TryGetProperty("ip_list", out _).Should().BeTrue();
    }

    [Fact]
    public async Task ClassicToken_PastItsLife_Answers42001()
    {
        var token = await ClassicAsync();

        _time.Advance(TimeSpan.FromSeconds(7200));

        _emulator.ValidateAccessToken(token).Should().Be(42001);
        _emulator.ValidateAccessToken("80_unknown").Should().Be(40014);
        _emulator.ValidateAccessToken(null).Should().Be(41001);
    }

    [Fact]
    public async Task StableToken_NormalMode_ReturnsSameTokenUntilTheLastFiveMinutes()
    {
        var (first, life1) = await StableAsync(force: false);
        _time.Advance(TimeSpan.FromMinutes(60));
        var (again, life2) = await StableAsync(force: false);
        _time.Advance(TimeSpan.FromSeconds(7200 - 3600 - 300));
        var (rotated, life3) = await StableAsync(force: false);

        again.Should().Be(first);
        life1.Should().Be(7200);
        life2.Should().Be(3600);
        rotated.Should().NotBe(first);
        life3.Should().Be(7200);
        _emulator.ValidateAccessToken(first).Should().Be(0, "a rotated stable token stays valid until its own expiry");
        (await ClassicAsync()).Should().NotBe(first, "classic and stable tokens are separate families");
        _emulator.ValidateAccessToken(rotated).Should().Be(0, "a classic call does not invalidate a stable token");
    }

    [Fact]
    public async Task StableToken_ForceRefresh_InvalidatesAtOnceIsSpacedAndBudgeted()
    {
        var (first, _) = await StableAsync(force: false);
        var (forced, _) = await StableAsync(force: true);
        var (tooSoon, _) = await StableAsync(force: true);

        forced.Should().NotBe(first);
        _emulator.ValidateAccessToken(first).Should().Be(40001);
        tooSoon.Should().Be(forced, "a forced refresh within 30 s does not refresh");

        for (var i = 1; i < 20; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(31));
            await StableAsync(force: true);
        }

        _time.Advance(TimeSpan.FromSeconds(31));
        (await PostStableAsync(force: true)).GetProperty("errcode").GetInt32().Should().Be(45009);
        _emulator.ForcedRefreshCalls.Should().Be(22);
    }

    [Theory]
    [InlineData("client_credential", AppId, "wrong", 40125)]
    [InlineData("client_credential", "wxunknown", Secret, 40013)]
    [InlineData("client_credential", "", Secret, 41002)]
    [InlineData("client_credential", AppId, "", 41004)]
    [InlineData("password", AppId, Secret, 40002)]
    public async Task ClassicToken_BadRequest_AnswersDocumentedErrcodeWithHttp200(string grant, string appId, string secret, int errcode)
    {
        using var response = await _http.GetAsync($"cgi-bin/token?grant_type={grant}&appid={appId}&secret={secret}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        response.IsSuccessStatusCode.Should().BeTrue();
        body.GetProperty("errcode").GetInt32().Should().Be(errcode);
        body.GetProperty("errmsg").GetString().Should().Contain(" rid: ");
    }

    [Fact]
    public async Task StableToken_WrongMethodOrBody_Answers43002And47001()
    {
        (await _http.GetFromJsonAsync<JsonElement>("cgi-bin/stable_token")).GetProperty("errcode").GetInt32().Should().Be(43002);
        using var bad = await _http.PostAsync("cgi-bin/stable_token", new StringContent("{not json"));
        (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errcode").GetInt32().Should().Be(47001);
    }

    [Fact]
    public async Task ClassicToken_BeyondDailyQuota_Answers45009UntilShanghaiMidnight()
    {
        for (var i = 0; i < 5; i++)
        {
            await ClassicAsync();
        }

        (await ClassicRawAsync()).GetProperty("errcode").GetInt32().Should().Be(45009);
        _time.Advance(TimeSpan.FromHours(14)); // 01:00Z + 14 h = 15:00Z = 23:00 in Shanghai
        (await ClassicRawAsync()).GetProperty("errcode").GetInt32().Should().Be(45009);
        _time.Advance(TimeSpan.FromHours(1));
        (await ClassicRawAsync()).TryGetProperty("access_token", out _).Should().BeTrue();
    }

    [Fact]
    public async Task ClassicToken_CallerNotWhitelisted_Answers40164WithItsIp()
    {
        _options.IpWhitelist = ["10.1.2.3"];

        var body = await ClassicRawAsync();

        body.GetProperty("errcode").GetInt32().Should().Be(40164);
        body.GetProperty("errmsg").GetString().Should().Contain("127.0.0.1");
    }

    [Fact]
    public async Task InjectFault_NextCalls_MisbehaveThenRecover()
    {
        _emulator.InjectFault(WeChatFault.HtmlErrorPage());
        _emulator.InjectFault(WeChatFault.Error(-1, "system error"));

        using var html = await _http.GetAsync($"cgi-bin/token?grant_type=client_credential&appid={AppId}&secret={Secret}");
        var busy = await ClassicRawAsync();
        var ok = await ClassicRawAsync();

        html.StatusCode.Should().Be(System.Net.HttpStatusCode.BadGateway);
        (await html.Content.ReadAsStringAsync()).Should().StartWith("<html>");
        busy.GetProperty("errcode").GetInt32().Should().Be(-1);
        ok.TryGetProperty("access_token", out _).Should().BeTrue();
        _emulator.ClassicTokenCalls.Should().Be(3);
    }

    [Fact]
    public async Task Ticket_WithValidToken_IsIssuedAndCounted()
    {
        var token = await ClassicAsync();

        var body = await _http.GetFromJsonAsync<JsonElement>($"cgi-bin/ticket/getticket?access_token={token}&type=jsapi");

        body.GetProperty("errcode").GetInt32().Should().Be(0);
        body.GetProperty("ticket").GetString().Should().NotBeNullOrEmpty();
        body.GetProperty("expires_in").GetInt32().Should().Be(7200);
        _emulator.TicketCalls.Should().Be(1);
    }

    private async Task<string> ClassicAsync() => (await ClassicRawAsync()).GetProperty("access_token").GetString()!;

    private Task<JsonElement> ClassicRawAsync() =>
        _http.GetFromJsonAsync<JsonElement>($"cgi-bin/token?grant_type=client_credential&appid={AppId}&secret={Secret}");

    private async Task<(string Token, int ExpiresIn)> StableAsync(bool force)
    {
        var body = await PostStableAsync(force);
        return (body.GetProperty("access_token").GetString()!, body.GetProperty("expires_in").GetInt32());
    }

    private async Task<JsonElement> PostStableAsync(bool force)
    {
        using var response = await _http.PostAsJsonAsync("cgi-bin/stable_token", new { grant_type = "client_credential", appid = AppId, secret = Secret, force_refresh = force });
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<JsonElement> ProbeAsync(string token) => _http.GetFromJsonAsync<JsonElement>($"cgi-bin/get_api_domain_ip?access_token={token}");
}
