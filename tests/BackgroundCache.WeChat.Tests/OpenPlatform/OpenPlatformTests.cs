using System.Globalization;
using System.Net;
using BackgroundCache.Stores;
using BackgroundCache.WeChat.Internal;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace BackgroundCache.WeChat.Tests.OpenPlatform;

public sealed class OpenPlatformTests(ITestOutputHelper output)
{
    private const string Authorizer = "wxa0th0r1zer00001";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task TicketPush_NoComponentTokenYet_FetchesItAtOnce()
    {
        await using var h = await OpenPlatformHarness.StartAsync();

        // No ticket yet: a transient failure on the normal backoff, no call to WeChat.
        h.ComponentToken.TryGetValue(out _).Should().BeFalse();
        h.ComponentToken.Status.ConsecutiveFailures.Should().BeGreaterThan(0);
        h.ComponentToken.Status.LastError.Should().BeOfType<PushedTicketMissingException>().Which.IsTransient.Should().BeTrue();
        h.Emulator.ComponentTokenCalls.Should().Be(0);

        var push = await h.Emulator.PushComponentVerifyTicketAsync(OpenPlatformHarness.ComponentAppId, h.EventUrl);
        var token = await h.ComponentToken.GetAsync().AsTask().WaitAsync(Guard);

        push.Should().Be(new WeChatPushResult(HttpStatusCode.OK, "success"));
        h.Emulator.ComponentTokenCalls.Should().Be(1, "the push fetched the token at once; the clock never moved");
        token.Value.Should().StartWith("80_component_");
        (await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId))!.Value.Should().StartWith("ticket@@@");
    }

    [Fact]
    public async Task TicketPush_LongAfterStart_ReaderRightAfterThePushGetsTheToken()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.AdvanceAsync(TimeSpan.FromMinutes(10)); // no ticket for 10 minutes: InitialLoadTimeout (30 s) has long passed

        var push = await h.Emulator.PushComponentVerifyTicketAsync(OpenPlatformHarness.ComponentAppId, h.EventUrl);
        var read = await h.ComponentToken.GetAsync(); // without the push waiting for its fetch, this could throw at once

        push.IsSuccess.Should().BeTrue();
        read.Value.Should().StartWith("80_component_");
    }

    [Fact]
    public async Task ComponentToken_TicketExpired61005_IsTransientAndTheNextPushRecoversAtOnce()
    {
        await using var h = await OpenPlatformHarness.StartAsync(beforeStart: async h =>
            await h.Store.SetTicketAsync(OpenPlatformHarness.ComponentAppId, new WeChatComponentVerifyTicket(h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId), h.Time.GetUtcNow())));
        h.ComponentToken.TryGetValue(out _).Should().BeTrue();

        await h.AdvanceAsync(TimeSpan.FromHours(14)); // no push for 14 hours: the stored ticket (12 h) expires
        var error = h.ComponentToken.Status.LastError.Should().BeOfType<WeChatApiException>().Subject;
        var callsBeforePush = h.Emulator.ComponentTokenCalls;
        var push = await h.Emulator.PushComponentVerifyTicketAsync(OpenPlatformHarness.ComponentAppId, h.EventUrl);

        error.ErrorCode.Should().Be(61005);
        error.IsTransient.Should().BeTrue();
        push.IsSuccess.Should().BeTrue();
        h.Emulator.ComponentTokenCalls.Should().Be(callsBeforePush + 1, "the push fetched at once, without waiting for the retry");
        h.ComponentToken.Status.ConsecutiveFailures.Should().Be(0);
        h.ComponentToken.TryGetValue(out _).Should().BeTrue();
    }

    [Fact]
    public async Task Push_SealedByAnIndependentImplementation_IsAccepted()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var ticket = h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId);
        var createTime = h.Time.GetUtcNow().ToUnixTimeSeconds();
        var message = $"<xml><AppId><![CDATA[{OpenPlatformHarness.ComponentAppId}]]></AppId><CreateTime>{createTime}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>";
        var encrypted = IndependentWeChatCrypto.Encrypt(OpenPlatformHarness.EncodingAesKey, OpenPlatformHarness.ComponentAppId, message);
        var signature = IndependentWeChatCrypto.Signature(OpenPlatformHarness.Token, "1764028800", "1320562132", encrypted);

        var (status, body) = await h.PostAsync($"signature=ignored&timestamp=1764028800&nonce=1320562132&openid=x&encrypt_type=aes&msg_signature={signature}", IndependentWeChatCrypto.Envelope(OpenPlatformHarness.ComponentAppId, encrypted));
        var token = await h.ComponentToken.GetAsync().AsTask().WaitAsync(Guard);

        status.Should().Be(HttpStatusCode.OK);
        body.Should().Be("success");
        (await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId)).Should().Be(new WeChatComponentVerifyTicket(ticket, DateTimeOffset.FromUnixTimeSeconds(createTime)));
        token.Value.Should().StartWith("80_component_");
    }

    [Fact]
    public async Task Push_PaddedWithAFullBlock_IsAccepted()
    {
        // A plaintext whose length is a multiple of 32 gets a whole 32-byte block of padding (value 32), which a 16-byte
        // PKCS#7 decoder would refuse.
        await using var h = await OpenPlatformHarness.StartAsync();
        var ticket = h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId);
        string message;
        var filler = string.Empty;
        do
        {
            message = $"<xml><AppId>{OpenPlatformHarness.ComponentAppId}</AppId><CreateTime>1764028800</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>{ticket}</ComponentVerifyTicket>{filler}</xml>";
            filler += " ";
        }
        while ((20 + message.Length + OpenPlatformHarness.ComponentAppId.Length) % 32 != 0);

        var encrypted = IndependentWeChatCrypto.Encrypt(OpenPlatformHarness.EncodingAesKey, OpenPlatformHarness.ComponentAppId, message);
        var (status, body) = await h.PostAsync($"timestamp=1&nonce=2&encrypt_type=aes&msg_signature={IndependentWeChatCrypto.Signature(OpenPlatformHarness.Token, "1", "2", encrypted)}", IndependentWeChatCrypto.Envelope(OpenPlatformHarness.ComponentAppId, encrypted));

        (status, body).Should().Be((HttpStatusCode.OK, "success"));
        (await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId))!.Value.Should().Be(ticket);
    }

    [Theory]
    [InlineData("signature", HttpStatusCode.Unauthorized)]
    [InlineData("token", HttpStatusCode.Unauthorized)]
    [InlineData("key", HttpStatusCode.BadRequest)]
    [InlineData("appid", HttpStatusCode.Forbidden)]
    [InlineData("not-xml", HttpStatusCode.BadRequest)]
    [InlineData("no-query", HttpStatusCode.BadRequest)]
    [InlineData("garbage-cipher", HttpStatusCode.BadRequest)]
    public async Task ForgedPush_IsRefusedAndNothingIsStored(string forgery, HttpStatusCode expected)
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var message = $"<xml><AppId>{OpenPlatformHarness.ComponentAppId}</AppId><CreateTime>1764028800</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@forged</ComponentVerifyTicket></xml>";
        var key = forgery == "key" ? "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut" : OpenPlatformHarness.EncodingAesKey;
        var appId = forgery == "appid" ? "wxsomeoneelse000001" : OpenPlatformHarness.ComponentAppId;
        var token = forgery == "token" ? "guessed" : OpenPlatformHarness.Token;
        var encrypted = forgery == "garbage-cipher" ? Convert.ToBase64String(new byte[64]) : IndependentWeChatCrypto.Encrypt(key, appId, message);
        var signature = IndependentWeChatCrypto.Signature(token, "1764028800", "42", encrypted);
        if (forgery == "signature")
        {
            signature = signature[..^1] + (signature[^1] == '0' ? '1' : '0');
        }

        var query = forgery == "no-query" ? "encrypt_type=aes" : $"timestamp=1764028800&nonce=42&encrypt_type=aes&msg_signature={signature}";
        var body = forgery == "not-xml" ? "{\"Encrypt\":\"" + encrypted + "\"}" : IndependentWeChatCrypto.Envelope(appId, encrypted);

        var (status, answer) = await h.PostAsync(query, body);

        status.Should().Be(expected);
        answer.Should().NotBe("success");
        (await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId)).Should().BeNull();
        h.Emulator.ComponentTokenCalls.Should().Be(0);
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == Log.OpenPlatformEventRejectedId);
    }

    [Fact]
    public async Task ComponentToken_IpNotWhitelisted_IsAConfigurationErrorLoggedOnceAndRetriedSlowly()
    {
        await using var h = await OpenPlatformHarness.StartAsync(emulatorOptions: o => o.IpWhitelist = ["203.0.113.9"]);
        (await h.Emulator.PushComponentVerifyTicketAsync(OpenPlatformHarness.ComponentAppId, h.EventUrl)).IsSuccess.Should().BeTrue();
        await h.QuiesceAsync();

        await h.AdvanceAsync(TimeSpan.FromMinutes(10));

        var error = h.ComponentToken.Status.LastError.Should().BeOfType<WeChatApiException>().Subject;
        error.ErrorCode.Should().Be(61004);
        error.IsConfigurationError.Should().BeTrue();
        h.Emulator.ComponentTokenCalls.Should().BeInRange(2, 6, "a configuration error is retried every RetryMaxDelay (2 min here)");
        h.Logs.GetSnapshot().Count(r => r.Id.Id == Log.ConfigurationErrorId).Should().Be(1);
    }

    [Fact]
    public async Task OversizedPush_IsRefusedBeforeReading()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var (status, _) = await h.PostAsync("timestamp=1&nonce=2&msg_signature=x", "<xml>" + new string('a', WeChatOpenPlatform.MaxEventBodyBytes) + "</xml>");

        status.Should().Be(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task OlderTicket_ReplayedAfterANewerOne_IsIgnored()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        var older = h.Emulator.Message(OpenPlatformHarness.ComponentAppId, "component_verify_ticket", ("ComponentVerifyTicket", h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId)));
        h.Time.Advance(TimeSpan.FromMinutes(10));
        await h.PushTicketAndLoadAsync();
        var newer = await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId);

        var replay = await h.Emulator.PushAsync(OpenPlatformHarness.ComponentAppId, h.EventUrl, older);

        replay.IsSuccess.Should().BeTrue();
        (await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId)).Should().Be(newer);
    }

    [Fact]
    public async Task AuthorizedPush_AddsTheAuthorizerWithTheTokenTheExchangeReturned()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();

        var push = await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl);

        push.IsSuccess.Should().BeTrue();
        h.Authorizers.TryGetValue(Authorizer, out var token).Should().BeTrue("the push is answered once the token is there");
        h.Authorizers.Keys.Should().Equal(Authorizer);
        h.Emulator.ValidateAccessToken(token!.Value).Should().Be(0);
        h.Emulator.QueryAuthCalls.Should().Be(1);
        h.Emulator.AuthorizerTokenCalls.Should().Be(0, "the token api_query_auth returned is the first value");
        (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer))
            .Should().Be(h.Emulator.GetAuthorizerRefreshToken(OpenPlatformHarness.ComponentAppId, Authorizer));
        (await h.Store.GetAuthorizersAsync(OpenPlatformHarness.ComponentAppId)).Should().Equal(Authorizer);
    }

    [Fact]
    public async Task UpdateAuthorizedPush_ForAKnownAuthorizer_ReplacesItsTokenAndRefreshToken()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        var first = await h.Authorizers.GetAsync(Authorizer);
        await h.QuiesceAsync();

        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl, "updateauthorized")).IsSuccess.Should().BeTrue();
        await h.QuiesceAsync();

        h.Authorizers.TryGetValue(Authorizer, out var second).Should().BeTrue();
        second.Should().NotBe(first);
        h.Emulator.ValidateAccessToken(second!.Value).Should().Be(0);
        (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer))
            .Should().Be(h.Emulator.GetAuthorizerRefreshToken(OpenPlatformHarness.ComponentAppId, Authorizer));
    }

    [Fact]
    public async Task Refresh_RotatedRefreshTokens_AreStoredEachTime()
    {
        await using var h = await OpenPlatformHarness.StartAsync(emulatorOptions: o => o.RotateAuthorizerRefreshTokens = true);
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        await h.Authorizers.GetAsync(Authorizer);
        var seen = new HashSet<string>();
        await using var pushes = h.Emulator.StartPushingTickets(OpenPlatformHarness.ComponentAppId, h.EventUrl);

        for (var i = 0; i < 4; i++)
        {
            var before = h.Emulator.AuthorizerTokenCalls;
            while (h.Emulator.AuthorizerTokenCalls == before)
            {
                await h.AdvanceAsync(TimeSpan.FromMinutes(10));
            }

            var stored = await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer);
            stored.Should().Be(h.Emulator.GetAuthorizerRefreshToken(OpenPlatformHarness.ComponentAppId, Authorizer));
            seen.Add(stored!).Should().BeTrue("WeChat (emulated) rotates the refresh token at each call");
        }

        h.Authorizers.TryGetValue(Authorizer, out var token).Should().BeTrue();
        h.Emulator.ValidateAccessToken(token!.Value).Should().Be(0);
        h.Authorizers.GetOrAdd(Authorizer).Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task Refresh_StoreDownWhenARotatedRefreshTokenArrives_KeepsItInMemoryAndStoresItNextTime()
    {
        var store = new FlakyStore();
        await using var h = await OpenPlatformHarness.StartAsync(services: (s, _) => s.AddSingleton<IRefreshSecretStore>(store), emulatorOptions: o => o.RotateAuthorizerRefreshTokens = true);
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        await h.Authorizers.GetAsync(Authorizer);
        await h.QuiesceAsync();

        store.FailRefreshTokenWrites = true;
        var first = await h.Authorizers.GetOrAdd(Authorizer).RefreshAsync().WaitAsync(Guard);
        var storedWhileDown = await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer);
        store.FailRefreshTokenWrites = false;
        var second = await h.Authorizers.GetOrAdd(Authorizer).RefreshAsync().WaitAsync(Guard);

        h.Emulator.ValidateAccessToken(first.Value).Should().Be(0, "the token is good even though its refresh token could not be stored");
        storedWhileDown.Should().NotBe(h.Emulator.GetAuthorizerRefreshToken(OpenPlatformHarness.ComponentAppId, Authorizer));
        h.Emulator.ValidateAccessToken(second.Value).Should().Be(0, "the next refresh used the refresh token kept in memory");
        (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer))
            .Should().Be(h.Emulator.GetAuthorizerRefreshToken(OpenPlatformHarness.ComponentAppId, Authorizer));
        h.Logs.GetSnapshot().Count(r => r.Id.Id == Log.OpenPlatformRefreshTokenNotStoredId).Should().Be(1);
        h.Authorizers.Keys.Should().Equal(Authorizer);
    }

    [Fact]
    public async Task UnauthorizedPush_RemovesTheAuthorizer()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        await h.Authorizers.GetAsync(Authorizer);

        var push = await h.Emulator.RevokeAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl);

        push!.IsSuccess.Should().BeTrue();
        h.Authorizers.Count.Should().Be(0);
        h.Authorizers.TryGetValue(Authorizer, out _).Should().BeFalse();
        (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer)).Should().BeNull();
        (await h.Store.GetAuthorizersAsync(OpenPlatformHarness.ComponentAppId)).Should().BeEmpty();
    }

    [Fact]
    public async Task Refresh_RefreshTokenRefused61023_RemovesTheAuthorizerLogsOnceAndNeverRetries()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, "wxstays0000000001", h.EventUrl)).IsSuccess.Should().BeTrue();
        await h.Authorizers.GetAsync(Authorizer);
        await using var pushes = h.Emulator.StartPushingTickets(OpenPlatformHarness.ComponentAppId, h.EventUrl);

        await h.Emulator.RevokeAsync(OpenPlatformHarness.ComponentAppId, Authorizer); // silently: the platform learns it at its next refresh
        await h.AdvanceAsync(TimeSpan.FromHours(2));
        var callsAfterRevocation = h.Emulator.GetAuthorizerTokenCalls(Authorizer);
        await h.AdvanceAsync(TimeSpan.FromHours(12));

        callsAfterRevocation.Should().Be(1);
        h.Emulator.GetAuthorizerTokenCalls(Authorizer).Should().Be(1, "a revoked authorizer is never retried");
        h.Authorizers.Keys.Should().Equal("wxstays0000000001");
        (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer)).Should().BeNull();
        h.Logs.GetSnapshot().Count(r => r.Id.Id == Log.OpenPlatformAuthorizerRevokedId).Should().Be(1);
        h.Authorizers.TryGetValue("wxstays0000000001", out var other).Should().BeTrue();
        h.Emulator.ValidateAccessToken(other!.Value).Should().Be(0);
    }

    [Fact]
    public async Task Start_AuthorizersInTheUsersOwnStore_AreLoadedAsInitialKeys()
    {
        var store = new InMemoryStore();
        await using var h = await OpenPlatformHarness.StartAsync(
            services: (s, _) => s.AddSingleton<IRefreshSecretStore>(store).AddSingleton<IPushedTicketStore>(store),
            beforeStart: async h =>
            {
                foreach (var appId in new[] { "wxknown0000000001", "wxknown0000000002" })
                {
                    await store.SetSecretAsync(WeChatOpenPlatformState.AuthorizersScope(OpenPlatformHarness.ComponentAppId), appId, new StoredSecret(h.Emulator.AuthorizeWithRefreshToken(OpenPlatformHarness.ComponentAppId, appId), h.Time.GetUtcNow()));
                }

                var ticket = h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId);
                await store.SetTicketAsync(WeChatOpenPlatformState.TicketKey(OpenPlatformHarness.ComponentAppId), new PushedTicket(ticket, h.Time.GetUtcNow()));
            });

        var first = await h.Authorizers.GetAsync("wxknown0000000001").AsTask().WaitAsync(Guard);
        var second = await h.Authorizers.GetAsync("wxknown0000000002").AsTask().WaitAsync(Guard);

        h.App.Services.GetRequiredService<IRefreshSecretStore>().Should().BeSameAs(store);
        h.Authorizers.Keys.Should().BeEquivalentTo("wxknown0000000001", "wxknown0000000002");
        h.Emulator.ValidateAccessToken(first.Value).Should().Be(0);
        h.Emulator.ValidateAccessToken(second.Value).Should().Be(0);
        h.Emulator.ComponentTokenCalls.Should().Be(1);
    }

    [Fact]
    public async Task Read_AuthorizerUnknownToTheStore_FailsAtOnceAndIsNotKept()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();

        var read = async () => await h.Authorizers.GetAsync("wxnever0000000001").AsTask().WaitAsync(Guard);

        await read.Should().ThrowAsync<CacheValueUnavailableException>();
        await h.QuiesceAsync();
        h.Authorizers.Count.Should().Be(0);
        h.Emulator.AuthorizerTokenCalls.Should().Be(0);
    }

    [Fact]
    public async Task CreateAuthorizationUrl_LinksToTheAuthorizationPageWithAPreAuthCode()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();

        var desktop = await h.Platform.CreateAuthorizationUrlAsync(new Uri("https://platform.example.com/wechat/authorized?x=1"), WeChatAuthorizationType.OfficialAccount);
        var mobile = await h.Platform.CreateAuthorizationUrlAsync(new Uri("https://platform.example.com/cb"), mobile: true);

        desktop.GetLeftPart(UriPartial.Path).Should().Be("https://mp.weixin.qq.com/cgi-bin/componentloginpage");
        desktop.Query.Should().Contain($"component_appid={OpenPlatformHarness.ComponentAppId}")
            .And.Contain("pre_auth_code=preauthcode%40%40%40")
            .And.Contain("redirect_uri=https%3A%2F%2Fplatform.example.com%2Fwechat%2Fauthorized%3Fx%3D1")
            .And.Contain("auth_type=1");
        mobile.GetLeftPart(UriPartial.Path).Should().Be("https://open.weixin.qq.com/wxaopen/safe/bindcomponent");
        mobile.Query.Should().Contain("action=bindcomponent").And.Contain("auth_type=3");
        mobile.Fragment.Should().Be("#wechat_redirect");
        h.Emulator.PreAuthCodeCalls.Should().Be(2);
    }

    [Fact]
    public async Task AuthorizeAsync_WithTheRedirectsAuthCode_AddsTheAuthorizer()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        var code = h.Emulator.Authorize(OpenPlatformHarness.ComponentAppId, Authorizer);

        var appId = await h.Platform.AuthorizeAsync(code);
        var reuse = async () => await h.Platform.AuthorizeAsync(code);

        appId.Should().Be(Authorizer);
        h.Emulator.ValidateAccessToken((await h.Authorizers.GetAsync(Authorizer)).Value).Should().Be(0);
        (await reuse.Should().ThrowAsync<WeChatApiException>()).Which.ErrorCode.Should().Be(61010);
    }

    [Fact]
    public async Task AuthorizerHandlerAndJsApiTicket_UseTheAuthorizersToken()
    {
        await using var h = await OpenPlatformHarness.StartAsync(
            services: (s, emulator) => s.AddHttpClient("authorizer-api", c => c.BaseAddress = emulator.BaseAddress)
                .AddWeChatAuthorizerAccessTokenHandler(OpenPlatformHarness.Name, Authorizer),
            platform: p => p.WithAuthorizerJsApiTickets());
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        var token = await h.Authorizers.GetAsync(Authorizer);

        using var client = h.App.Services.GetRequiredService<IHttpClientFactory>().CreateClient("authorizer-api");
        var answer = await client.GetStringAsync(new Uri("cgi-bin/getcallbackip", UriKind.Relative));
        var tickets = h.App.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, WeChatJsApiTicket>>(OpenPlatformHarness.Name);
        var ticket = await tickets.GetAsync(Authorizer).AsTask().WaitAsync(Guard);

        answer.Should().Contain("ip_list");
        h.Emulator.RejectedApiCalls.Should().Be(0);
        h.Emulator.ApiCalls.Should().Be(1);
        h.Emulator.TicketCalls.Should().Be(1);
        ticket.Value.Should().NotBeNullOrEmpty();
        h.Emulator.ValidateAccessToken(token.Value).Should().Be(0);
    }

    [Fact]
    public async Task AuthorizerHandler_PerRequest_AttachesTheTokenOfTheAuthorizerEachRequestNames()
    {
        await using var h = await OpenPlatformHarness.StartAsync(services: (s, emulator) =>
            s.AddHttpClient("any-authorizer", c => c.BaseAddress = emulator.BaseAddress).AddWeChatAuthorizerAccessTokenHandler(OpenPlatformHarness.Name));
        await h.PushTicketAndLoadAsync();
        foreach (var appId in new[] { "wxper0000000000001", "wxper0000000000002" })
        {
            (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, appId, h.EventUrl)).IsSuccess.Should().BeTrue();
        }

        using var client = h.App.Services.GetRequiredService<IHttpClientFactory>().CreateClient("any-authorizer");
        var seen = new List<string>();
        foreach (var appId in new[] { "wxper0000000000001", "wxper0000000000002" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "cgi-bin/getcallbackip");
            request.SetWeChatAuthorizer(appId);
            using var response = await client.SendAsync(request);
            (await response.Content.ReadAsStringAsync()).Should().Contain("ip_list");
            seen.Add(System.Web.HttpUtility.ParseQueryString(request.RequestUri!.Query)["access_token"]!);
        }

        using var anonymous = new HttpRequestMessage(HttpMethod.Get, "cgi-bin/getcallbackip");
        var send = async () => await client.SendAsync(anonymous);

        h.Emulator.ApiCalls.Should().Be(2);
        h.Emulator.RejectedApiCalls.Should().Be(0);
        h.Authorizers.TryGetValue("wxper0000000000001", out var first).Should().BeTrue();
        h.Authorizers.TryGetValue("wxper0000000000002", out var second).Should().BeTrue();
        seen.Should().Equal(first!.Value, second!.Value);
        (await send.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("SetWeChatAuthorizer");
    }

    [Fact]
    public async Task SimulatedDay_ThousandAuthorizers_AtMostThirteenFetchesEachAndNeverAboveTheCap()
    {
        const int authorizers = 1000;
        const int cap = 8;
        var appIds = Enumerable.Range(0, authorizers).Select(i => "wxday" + i.ToString("D12", CultureInfo.InvariantCulture)).ToArray();
        var probe = new ConcurrencyProbeHandler("/api_authorizer_token");
        await using var h = await OpenPlatformHarness.StartAsync(
            services: (s, _) =>
            {
                s.Configure<RefreshingCacheSetOptions>(OpenPlatformHarness.Name, o => o.MaxConcurrentFetches = cap);
                s.AddHttpClient(WeChatOptions.DefaultHttpClientName).AddHttpMessageHandler(() => probe);
            },
            beforeStart: async h =>
            {
                foreach (var appId in appIds)
                {
                    await h.Store.SetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, appId, h.Emulator.AuthorizeWithRefreshToken(OpenPlatformHarness.ComponentAppId, appId));
                }

                var ticket = h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId);
                await h.Store.SetTicketAsync(OpenPlatformHarness.ComponentAppId, new WeChatComponentVerifyTicket(ticket, h.Time.GetUtcNow()));
            });
        await using var pushes = h.Emulator.StartPushingTickets(OpenPlatformHarness.ComponentAppId, h.EventUrl);
        var start = h.Time.GetUtcNow();
        var reads = 0;
        var invalid = 0;
        var wakes = 0;

        await h.AdvanceAsync(TimeSpan.FromDays(1), () =>
        {
            if (++wakes % 97 != 0)
            {
                return;
            }

            foreach (var appId in appIds)
            {
                if (h.Authorizers.TryGetValue(appId, out var token))
                {
                    reads++;
                    if (h.Emulator.ValidateAccessToken(token.Value) != 0)
                    {
                        invalid++;
                    }
                }
            }
        });

        var calls = appIds.Select(h.Emulator.GetAuthorizerTokenCalls).ToArray();
        output.WriteLine($"authorizer token calls per authorizer: min {calls.Min()}, max {calls.Max()}, total {calls.Sum()}; component token calls {h.Emulator.ComponentTokenCalls}; peak concurrent calls {probe.Peak} at the client, {h.Emulator.PeakConcurrentAuthorizerTokenCalls} at the emulator (cap {cap}); reads {reads}, invalid {invalid}; wakes {wakes}");
        (h.Time.GetUtcNow() - start).Should().Be(TimeSpan.FromDays(1));
        calls.Max().Should().BeLessThanOrEqualTo(13);
        calls.Min().Should().BeGreaterThanOrEqualTo(12);
        probe.Peak.Should().BeLessThanOrEqualTo(cap);
        h.Emulator.PeakConcurrentAuthorizerTokenCalls.Should().BeLessThanOrEqualTo(cap);
        h.Emulator.ComponentTokenCalls.Should().BeLessThanOrEqualTo(13);
        h.Authorizers.Count.Should().Be(authorizers);
        reads.Should().BeGreaterThan(0);
        invalid.Should().Be(0);
        foreach (var appId in appIds.Take(20))
        {
            (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, appId)).Should().Be(h.Emulator.GetAuthorizerRefreshToken(OpenPlatformHarness.ComponentAppId, appId));
        }
    }

    [Fact]
    public async Task Start_HundredAuthorizers_FetchesHeldUpstreamNeverExceedTheSetsCap()
    {
        const int cap = 4;
        var probe = new ConcurrencyProbeHandler("/api_authorizer_token");
        probe.Close();
        var appIds = Enumerable.Range(0, 100).Select(i => "wxcap" + i.ToString("D12", CultureInfo.InvariantCulture)).ToArray();
        await using var h = await OpenPlatformHarness.StartAsync(
            services: (s, _) =>
            {
                s.Configure<RefreshingCacheSetOptions>(OpenPlatformHarness.Name, o => o.MaxConcurrentFetches = cap);
                s.AddHttpClient(WeChatOptions.DefaultHttpClientName).AddHttpMessageHandler(() => probe);
            },
            beforeStart: async h =>
            {
                foreach (var appId in appIds)
                {
                    await h.Store.SetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, appId, h.Emulator.AuthorizeWithRefreshToken(OpenPlatformHarness.ComponentAppId, appId));
                }

                await h.Store.SetTicketAsync(OpenPlatformHarness.ComponentAppId, new WeChatComponentVerifyTicket(h.Emulator.IssueComponentVerifyTicket(OpenPlatformHarness.ComponentAppId), h.Time.GetUtcNow()));
            },
            start: false);
        await h.App.StartAsync();

        // Every first load is launched at start: the budget lets `cap` of them call WeChat, the others wait in its queue.
        using var cts = new CancellationTokenSource(Guard);
        while (probe.Arrived < cap || h.Engine.FetchesQueued < appIds.Length - cap)
        {
            await Task.Yield();
            cts.Token.ThrowIfCancellationRequested();
        }

        var heldAtOnce = probe.Arrived;
        var queued = h.Engine.FetchesQueued;
        probe.Open();
        await h.QuiesceAsync();

        heldAtOnce.Should().Be(cap);
        queued.Should().Be(appIds.Length - cap);
        probe.Peak.Should().Be(cap);
        h.Authorizers.Count.Should().Be(appIds.Length);
        appIds.Count(a => h.Authorizers.TryGetValue(a, out var _)).Should().Be(appIds.Length);
    }

    [Fact]
    public async Task Logs_NeverContainTheSecretTicketOrTokens()
    {
        await using var h = await OpenPlatformHarness.StartAsync();
        await h.PushTicketAndLoadAsync();
        (await h.Emulator.PushAuthorizedAsync(OpenPlatformHarness.ComponentAppId, Authorizer, h.EventUrl)).IsSuccess.Should().BeTrue();
        var token = await h.Authorizers.GetAsync(Authorizer);
        await h.AdvanceAsync(TimeSpan.FromHours(3));

        var secrets = new List<string>
        {
            OpenPlatformHarness.ComponentAppSecret,
            OpenPlatformHarness.EncodingAesKey,
            token.Value,
            (await h.ComponentToken.GetAsync()).Value,
            (await h.Store.GetTicketAsync(OpenPlatformHarness.ComponentAppId))!.Value,
            (await h.Store.GetRefreshTokenAsync(OpenPlatformHarness.ComponentAppId, Authorizer))!,
        };
        var text = string.Join('\n', h.Logs.GetSnapshot().Select(r => r.Message + r.Exception));

        text.Should().NotBeEmpty();
        foreach (var secret in secrets)
        {
            text.Should().NotContain(secret);
        }
    }

    private sealed class FlakyStore : IRefreshSecretStore
    {
        private readonly InMemoryStore _inner = new();

        public bool FailRefreshTokenWrites { get; set; }

        public ValueTask<StoredSecret?> GetSecretAsync(string scope, string key, CancellationToken cancellationToken = default) => _inner.GetSecretAsync(scope, key, cancellationToken);

        public ValueTask<bool> SetSecretAsync(string scope, string key, StoredSecret secret, CancellationToken cancellationToken = default) => _inner.SetSecretAsync(scope, key, secret, cancellationToken);

        public ValueTask<bool> ReplaceSecretAsync(string scope, string key, string expectedValue, string newValue, CancellationToken cancellationToken = default) =>
            FailRefreshTokenWrites ? throw new IOException("store unavailable") : _inner.ReplaceSecretAsync(scope, key, expectedValue, newValue, cancellationToken);

        public ValueTask<bool> RemoveSecretAsync(string scope, string key, string? expectedValue = null, CancellationToken cancellationToken = default) => _inner.RemoveSecretAsync(scope, key, expectedValue, cancellationToken);

        public ValueTask<IReadOnlyCollection<string>> GetKeysAsync(string scope, CancellationToken cancellationToken = default) => _inner.GetKeysAsync(scope, cancellationToken);
    }
}
