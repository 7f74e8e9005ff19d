using System.Globalization;
using System.Net;
using BackgroundCache.Stores;

namespace BackgroundCache.WeCom.Tests;

/// <summary>The instruction URL against pushes sealed by the test's own crypto (<see cref="IndependentCallbackCrypto"/>).</summary>
public sealed class SuiteEventEndpointTests
{
    [Fact]
    public async Task UrlCheck_AnswersTheDecryptedEchostr()
    {
        await using var h = await SuiteHarness.StartAsync();
        var encrypted = IndependentCallbackCrypto.Encrypt(SuiteHarness.EncodingAesKey, SuiteHarness.SuiteId, "1616140317555161061");
        var (timestamp, nonce) = Stamp(h);

        var (status, body) = await h.GetAsync(Query(IndependentCallbackCrypto.Sign(SuiteHarness.Token, timestamp, nonce, encrypted), timestamp, nonce) + "&echostr=" + Uri.EscapeDataString(encrypted));

        status.Should().Be(HttpStatusCode.OK);
        body.Should().Be("1616140317555161061");
        (await h.Emulator.VerifyUrlAsync(SuiteHarness.SuiteId, h.EventUrl, "echo-42")).Body.Should().Be("echo-42");
    }

    [Fact]
    public async Task UrlCheck_WithAForgedSignature_Is401()
    {
        await using var h = await SuiteHarness.StartAsync();
        var encrypted = IndependentCallbackCrypto.Encrypt(SuiteHarness.EncodingAesKey, SuiteHarness.SuiteId, "echo");
        var (timestamp, nonce) = Stamp(h);

        var (status, body) = await h.GetAsync(Query(IndependentCallbackCrypto.Sign("another-token", timestamp, nonce, encrypted), timestamp, nonce) + "&echostr=" + Uri.EscapeDataString(encrypted));

        status.Should().Be(HttpStatusCode.Unauthorized);
        body.Should().NotContain("echo");
    }

    [Fact]
    public async Task SuiteTicketPush_SealedIndependently_IsStoredAndAnsweredSuccess()
    {
        await using var h = await SuiteHarness.StartAsync();
        var ticket = h.Emulator.IssueSuiteTicket(SuiteHarness.SuiteId);
        var xml = $"<xml><SuiteId><![CDATA[{SuiteHarness.SuiteId}]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType><TimeStamp>{h.Time.GetUtcNow().ToUnixTimeSeconds()}</TimeStamp><SuiteTicket><![CDATA[{ticket}]]></SuiteTicket></xml>";

        var (status, body) = await PushAsync(h, SuiteHarness.SuiteId, xml);
        await h.QuiesceAsync();

        status.Should().Be(HttpStatusCode.OK);
        body.Should().Be("success");
        (await h.Tickets.GetTicketAsync(SuiteHarness.TicketKey))!.Value.Should().Be(ticket);
        h.SuiteToken.TryGetValue(out _).Should().BeTrue();
    }

    [Theory]
    [InlineData("signature", HttpStatusCode.Unauthorized)]
    [InlineData("receiver", HttpStatusCode.Forbidden)]
    [InlineData("suiteid", HttpStatusCode.Forbidden)]
    [InlineData("key", HttpStatusCode.BadRequest)]
    [InlineData("noencrypt", HttpStatusCode.BadRequest)]
    [InlineData("noticket", HttpStatusCode.BadRequest)]
    [InlineData("doctype", HttpStatusCode.BadRequest)]
    public async Task BadPushes_AreRefused_AndNothingIsStored(string fault, HttpStatusCode expected)
    {
        await using var h = await SuiteHarness.StartAsync();
        var suiteInside = fault == "suiteid" ? "wwanothersuite" : SuiteHarness.SuiteId;
        var inner = fault == "noticket"
            ? $"<xml><SuiteId>{suiteInside}</SuiteId><InfoType>suite_ticket</InfoType></xml>"
            : $"<xml><SuiteId>{suiteInside}</SuiteId><InfoType>suite_ticket</InfoType><SuiteTicket>forged</SuiteTicket></xml>";
        var key = fault == "key" ? "a" + SuiteHarness.EncodingAesKey[1..] : SuiteHarness.EncodingAesKey;
        var encrypted = IndependentCallbackCrypto.Encrypt(key, fault == "receiver" ? "wwanothersuite" : SuiteHarness.SuiteId, inner);
        var (timestamp, nonce) = Stamp(h);
        var signature = IndependentCallbackCrypto.Sign(fault == "signature" ? "forged-token" : SuiteHarness.Token, timestamp, nonce, encrypted);
        var envelope = fault switch
        {
            "noencrypt" => "<xml><ToUserName>x</ToUserName></xml>",
            "doctype" => "<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&e;</Encrypt></xml>",
            _ => $"<xml><ToUserName><![CDATA[{SuiteHarness.SuiteId}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>",
        };

        var (status, _) = await h.PostAsync(Query(signature, timestamp, nonce), envelope);

        status.Should().Be(expected);
        (await h.Tickets.GetTicketAsync(SuiteHarness.TicketKey)).Should().BeNull();
    }

    [Fact]
    public async Task OversizedBody_Is413()
    {
        await using var h = await SuiteHarness.StartAsync();

        var (status, _) = await h.PostAsync("msg_signature=a&timestamp=1&nonce=2", "<xml>" + new string('a', WeComSuite.MaxEventBodyBytes) + "</xml>");

        status.Should().Be(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task CreateAuthPush_SealedIndependently_ExchangesTheCode_AndChangeAuthRefreshesTheCorp()
    {
        await using var h = await SuiteHarness.StartAsync();
        await h.Emulator.PushSuiteTicketAsync(SuiteHarness.SuiteId, h.EventUrl);
        var code = h.Emulator.CreateAuthCode(SuiteHarness.SuiteId, "wwcorpE");
        var now = h.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        var created = await PushAsync(h, SuiteHarness.SuiteId, $"<xml><SuiteId>{SuiteHarness.SuiteId}</SuiteId><AuthCode>{code}</AuthCode><InfoType>create_auth</InfoType><TimeStamp>{now}</TimeStamp><State></State></xml>");
        await h.QuiesceAsync();
        h.Corps.TryGetValue("wwcorpE", out var first).Should().BeTrue();
        var changed = await PushAsync(h, SuiteHarness.SuiteId, $"<xml><SuiteId>{SuiteHarness.SuiteId}</SuiteId><InfoType>change_auth</InfoType><TimeStamp>{now}</TimeStamp><AuthCorpId>wwcorpE</AuthCorpId></xml>");
        await h.QuiesceAsync();

        created.Body.Should().Be("success");
        changed.Body.Should().Be("success");
        (await h.Secrets.GetKeysAsync(SuiteHarness.CodesScope)).Should().Equal("wwcorpE");
        h.Emulator.CorpTokenCalls.Should().Be(1, "change_auth took a token that carries the new permissions");
        h.Corps.TryGetValue("wwcorpE", out var second).Should().BeTrue();
        second!.Value.Should().NotBe(first!.Value);
    }

    [Fact]
    public async Task CreateAuth_WhoseCodeCannotBeExchanged_Is503SoWeComPushesAgain()
    {
        await using var h = await SuiteHarness.StartAsync();
        await h.Emulator.PushSuiteTicketAsync(SuiteHarness.SuiteId, h.EventUrl);
        var now = h.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

        var (status, _) = await PushAsync(h, SuiteHarness.SuiteId, $"<xml><SuiteId>{SuiteHarness.SuiteId}</SuiteId><AuthCode>spent</AuthCode><InfoType>create_auth</InfoType><TimeStamp>{now}</TimeStamp></xml>");

        status.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await h.Secrets.GetKeysAsync(SuiteHarness.CodesScope)).Should().BeEmpty();
    }

    private static (string Timestamp, string Nonce) Stamp(SuiteHarness h) =>
        (h.Time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), "1372623149");

    private static string Query(string signature, string timestamp, string nonce) => $"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}";

    private static Task<(HttpStatusCode Status, string Body)> PushAsync(SuiteHarness h, string receiver, string xml)
    {
        var encrypted = IndependentCallbackCrypto.Encrypt(SuiteHarness.EncodingAesKey, receiver, xml);
        var (timestamp, nonce) = Stamp(h);
        return h.PostAsync(
            Query(IndependentCallbackCrypto.Sign(SuiteHarness.Token, timestamp, nonce, encrypted), timestamp, nonce),
            $"<xml><ToUserName><![CDATA[{receiver}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>");
    }
}
