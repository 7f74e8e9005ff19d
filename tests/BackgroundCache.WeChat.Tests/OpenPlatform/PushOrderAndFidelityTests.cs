using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using BackgroundCache.Stores;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.Logging;
using CoreLog = BackgroundCache.Internal.Log;

namespace BackgroundCache.WeChat.Tests.OpenPlatform;

/// <summary>Issue 18 items 6-8 and 19.5: repeated and late pushes, the emulator's fidelity, the "no ticket yet" state.</summary>
public sealed class PushOrderAndFidelityTests
{
    private const string Authorizer = "wxa0th0r1zer00001";
    private const string Component = OpenPlatformHarness.ComponentAppId;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AuthorizedPush_RepeatedAfterItsCodeWasExchanged_IsAcknowledgedWithoutASecondExchange()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        var push = AuthorizedMessage(h, h.Emulator.Authorize(Component, Authorizer));

        var first = await h.Emulator.PushAsync(Component, h.EventUrl, push);
        var repeat = await h.Emulator.PushAsync(Component, h.EventUrl, push); // WeChat re-sends a push it thinks was not answered

        first.Should().Be(new WeChatPushResult(HttpStatusCode.OK, "success"));
        repeat.Should().Be(new WeChatPushResult(HttpStatusCode.OK, "success"), "the authorization is already stored: a 503 would make WeChat retry forever");
        h.Emulator.QueryAuthCalls.Should().Be(1, "the spent code is not exchanged again");
        h.Authorizers.TryGetValue(Authorizer, out var token).Should().BeTrue();
        h.Emulator.ValidateAccessToken(token!.Value).Should().Be(0);
    }

    [Fact]
    public async Task AuthorizedPush_RepeatLandingOnAnotherInstanceAfterTheExchange_IsAcknowledged()
    {
        // The first delivery was exchanged by another instance sharing the store (simulated: the store holds that
        // authorization at a later time), so this instance's exchange meets 61010.
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        var code = h.Emulator.Authorize(Component, Authorizer);
        var push = AuthorizedMessage(h, code);
        var other = await h.Platform.AuthorizeAsync(code); // the other instance's exchange (the redirect's path here)

        var repeat = await h.Emulator.PushAsync(Component, h.EventUrl, push);

        other.Should().Be(Authorizer);
        repeat.Should().Be(new WeChatPushResult(HttpStatusCode.OK, "success"));
        h.Authorizers.Keys.Should().Equal(Authorizer);
    }

    [Fact]
    public async Task UnauthorizedPush_LateRepeatOlderThanANewAuthorization_IsIgnored()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(Component, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        h.Time.Advance(TimeSpan.FromMinutes(1));
        var revocation = h.Emulator.Message(Component, "unauthorized", ("AuthorizerAppid", Authorizer));
        (await h.Emulator.RevokeAsync(Component, Authorizer)).Should().BeNull();
        (await h.Emulator.PushAsync(Component, h.EventUrl, revocation)).IsSuccess.Should().BeTrue();
        h.Authorizers.Count.Should().Be(0);
        h.Time.Advance(TimeSpan.FromMinutes(1));
        (await h.Emulator.PushAuthorizedAsync(Component, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue(); // authorized again

        var late = await h.Emulator.PushAsync(Component, h.EventUrl, revocation); // the old revocation, delivered again

        late.Should().Be(new WeChatPushResult(HttpStatusCode.OK, "success"));
        h.Authorizers.Keys.Should().Equal(Authorizer);
        (await h.Store.GetRefreshTokenAsync(Component, Authorizer)).Should().Be(h.Emulator.GetAuthorizerRefreshToken(Component, Authorizer));
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == Internal.Log.OpenPlatformPushOutOfOrderId);
    }

    [Fact]
    public async Task AuthorizedPush_LateRepeatOlderThanARevocation_IsIgnored()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        var authorization = AuthorizedMessage(h, h.Emulator.Authorize(Component, Authorizer));
        (await h.Emulator.PushAsync(Component, h.EventUrl, authorization)).IsSuccess.Should().BeTrue();
        h.Time.Advance(TimeSpan.FromMinutes(1));
        (await h.Emulator.RevokeAsync(Component, Authorizer, h.EventUrl))!.IsSuccess.Should().BeTrue();

        var late = await h.Emulator.PushAsync(Component, h.EventUrl, authorization);

        late.Should().Be(new WeChatPushResult(HttpStatusCode.OK, "success"));
        h.Authorizers.Count.Should().Be(0);
        (await h.Store.GetAuthorizersAsync(Component)).Should().BeEmpty();
        h.Emulator.QueryAuthCalls.Should().Be(1);
    }

    [Theory]
    [InlineData("access_token")]
    [InlineData("component_access_token")]
    public async Task Emulator_ComponentApis_AcceptTheComponentTokenUnderBothNames(string parameter)
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var token = (await h.PushTicketAndLoadAsync()).Value;
        h.Emulator.AuthorizeWithRefreshToken(Component, Authorizer);
        using var http = new HttpClient { BaseAddress = h.Emulator.BaseAddress };

        var preAuth = await PostAsync(http, $"cgi-bin/component/api_create_preauthcode?{parameter}={token}", new { component_appid = Component });
        var info = await PostAsync(http, $"cgi-bin/component/api_get_authorizer_info?{parameter}={token}", new { component_appid = Component, authorizer_appid = Authorizer });

        preAuth.GetProperty("pre_auth_code").GetString().Should().StartWith("preauthcode@@@");
        info.GetProperty("authorizer_info").GetProperty("user_name").GetString().Should().StartWith("gh_");
        info.GetProperty("authorizer_info").GetProperty("service_type_info").GetProperty("id").GetInt32().Should().Be(2);
        info.GetProperty("authorization_info").GetProperty("authorizer_appid").GetString().Should().Be(Authorizer);
        info.GetProperty("authorization_info").GetProperty("authorizer_refresh_token").GetString().Should().Be(h.Emulator.GetAuthorizerRefreshToken(Component, Authorizer));
        h.Emulator.AuthorizerInfoCalls.Should().Be(1);
    }

    [Fact]
    public async Task Emulator_AuthorizerRefreshToken_StaysValidByDefault()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var token = (await h.PushTicketAndLoadAsync()).Value;
        var refresh = h.Emulator.AuthorizeWithRefreshToken(Component, Authorizer);
        using var http = new HttpClient { BaseAddress = h.Emulator.BaseAddress };
        var body = new { component_appid = Component, authorizer_appid = Authorizer, authorizer_refresh_token = refresh };

        var first = await PostAsync(http, $"cgi-bin/component/api_authorizer_token?access_token={token}", body);
        var second = await PostAsync(http, $"cgi-bin/component/api_authorizer_token?access_token={token}", body);

        first.GetProperty("authorizer_refresh_token").GetString().Should().Be(refresh);
        second.GetProperty("authorizer_access_token").GetString().Should().NotBeNullOrEmpty("the same refresh token works again (WeChat: valid until revoked)");
        h.Emulator.GetAuthorizerRefreshToken(Component, Authorizer).Should().Be(refresh);
    }

    [Fact]
    public async Task Emulator_StartPushTicket_PushesATicketToTheEventUrl()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        h.Emulator.SetComponentEventUrl(Component, h.EventUrl);
        using var http = new HttpClient { BaseAddress = h.Emulator.BaseAddress };

        var answer = await PostAsync(http, "cgi-bin/component/api_start_push_ticket", new { component_appid = Component, component_secret = OpenPlatformHarness.ComponentAppSecret });
        var refused = await PostAsync(http, "cgi-bin/component/api_start_push_ticket", new { component_appid = Component, component_secret = "wrong" });
        await h.Emulator.WhenPushesCompleteAsync().WaitAsync(Guard);

        answer.GetProperty("errcode").GetInt32().Should().Be(0);
        answer.GetProperty("errmsg").GetString().Should().Be("ok");
        refused.GetProperty("errcode").GetInt32().Should().Be(40125);
        (await h.Store.GetTicketAsync(Component)).Should().NotBeNull("the ticket was pushed to the event URL");
    }

    [Fact]
    public async Task Start_NoTicket_AsksWeChatToStartPushingOnceThenAtMostEveryTenMinutes()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var atStart = h.Emulator.StartPushTicketCalls;
        await h.AdvanceAsync(TimeSpan.FromMinutes(9)); // several retries of the component token, no ticket
        var withinTenMinutes = h.Emulator.StartPushTicketCalls;
        h.Emulator.SetComponentEventUrl(Component, h.EventUrl); // from now on WeChat (emulated) can reach the platform

        // Attempts are one to two minutes apart by now (back-off with jitter): the first one past ten minutes asks again.
        for (var step = 0; step < 24 && h.Emulator.StartPushTicketCalls < 2; step++)
        {
            await h.AdvanceAsync(TimeSpan.FromSeconds(15));
        }

        await h.Emulator.WhenPushesCompleteAsync().WaitAsync(Guard); // the push that call brought has been answered
        await h.AdvanceAsync(TimeSpan.FromMinutes(2)); // the retry that follows the push, if the push met an attempt in flight

        atStart.Should().Be(1);
        withinTenMinutes.Should().Be(1, "asked once; WeChat pushes every 10 minutes anyway");
        h.Emulator.StartPushTicketCalls.Should().Be(2);
        h.ComponentToken.TryGetValue(out var token).Should().BeTrue("the ticket api_start_push_ticket brought was used");
        token!.Value.Should().StartWith("80_component_");
    }

    [Fact]
    public async Task Start_NoTicket_IsLoggedOnceAtInformationWithoutAStackTrace()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.AdvanceAsync(TimeSpan.FromMinutes(15));

        var logs = h.Logs.GetSnapshot();
        h.ComponentToken.Status.LastError.Should().BeOfType<PushedTicketMissingException>();
        h.ComponentToken.Status.ConsecutiveFailures.Should().BeGreaterThan(3);
        logs.Where(r => r.Level >= LogLevel.Error).Select(r => r.Message).Should().BeEmpty();
        var waiting = logs.Where(r => r.Id.Id == CoreLog.AwaitingPushedTicketId).ToList();
        waiting.Should().ContainSingle().Which.Level.Should().Be(LogLevel.Information);
        waiting[0].Exception.Should().BeNull();
        waiting[0].Message.Should().Contain("no component_verify_ticket yet");
    }

    [Fact]
    public async Task Read_AuthorizerUnknownToThePlatform_SaysItIsNotAnAuthorizedAccount()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();

        var read = async () => await h.Authorizers.GetAsync("wxnever0000000001").AsTask().WaitAsync(Guard);

        var error = (await read.Should().ThrowAsync<CacheValueUnavailableException>()).Which;
        error.Message.Should().Contain("wxnever0000000001 is not an authorized account of third-party platform 'platform'");
        error.InnerException.Should().BeOfType<CacheKeyNotFoundException>();
        await h.QuiesceAsync();
        h.Authorizers.Count.Should().Be(0);
        h.Logs.GetSnapshot().Where(r => r.Level >= LogLevel.Error).Should().BeEmpty();
    }

    private static string AuthorizedMessage(OpenPlatformHarness h, string code) =>
        h.Emulator.Message(Component, "authorized", ("AuthorizerAppid", Authorizer), ("AuthorizationCode", code),
            ("AuthorizationCodeExpiredTime", (h.Time.GetUtcNow() + TimeSpan.FromMinutes(10)).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));

    private static async Task<JsonElement> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(new Uri(path, UriKind.Relative), body);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
