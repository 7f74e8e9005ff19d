using Microsoft.Extensions.DependencyInjection;
using System.Globalization;
using System.Net;
using System.Text.Json;
using BackgroundCache.Feishu.Internal;

namespace BackgroundCache.Feishu.Tests;

public sealed class EventEndpointTests
{
    [Fact]
    public void Decrypt_FeishusDocumentedSample_HelloWorld()
    {
        // Feishu's docs: Encrypt Key "test key" decrypts this payload to "hello world".
        FeishuEventCrypto.Decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").Should().Be("hello world");
        IndependentFeishuCrypto.Decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").Should().Be("hello world");
    }

    [Fact]
    public void Sign_MatchesTheIndependentImplementation()
    {
        FeishuEventCrypto.Sign("1700000000", "n0nce", "k", "{\"encrypt\":\"x\"}").Should().Be(IndependentFeishuCrypto.Sign("1700000000", "n0nce", "k", "{\"encrypt\":\"x\"}"));
    }

    [Fact]
    public async Task UrlVerification_Encrypted_ChallengeEchoed()
    {
        await using var h = await StoreAppHarness.StartAsync();
        var body = Encrypted(new { challenge = "ch-123", token = StoreAppHarness.VerificationToken, type = "url_verification" });

        var (status, answer) = await h.PostAsync(body);

        status.Should().Be(HttpStatusCode.OK);
        JsonDocument.Parse(answer).RootElement.GetProperty("challenge").GetString().Should().Be("ch-123");
    }

    [Fact]
    public async Task UrlVerification_Plain_WithoutEncryptKey_ChallengeEchoed()
    {
        await using var h = await StoreAppHarness.StartAsync(encrypt: false);

        var (status, answer) = await h.PostAsync(JsonSerializer.Serialize(new { challenge = "plain-1", token = StoreAppHarness.VerificationToken, type = "url_verification" }));

        status.Should().Be(HttpStatusCode.OK);
        answer.Should().Contain("plain-1");
    }

    [Fact]
    public async Task AppTicket_SignedAndEncryptedByTheTest_Stored()
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.QuiesceAsync();
        var (ts, nonce, body, signature) = SignedTicket("ticket-from-test", StoreAppHarness.AppId, StoreAppHarness.VerificationToken, h.Time.GetUtcNow().AddMinutes(1));

        var (status, _) = await h.PostAsync(body, ts, nonce, signature);

        status.Should().Be(HttpStatusCode.OK);
        var stored = await h.App.Services.GetRequiredService<BackgroundCache.Stores.IPushedTicketStore>().GetTicketAsync($"feishu:store:{StoreAppHarness.AppId}:app_ticket");
        stored!.Value.Should().Be("ticket-from-test");
    }

    [Theory]
    [InlineData("forged", HttpStatusCode.Unauthorized)]
    [InlineData("unsigned", HttpStatusCode.Unauthorized)]
    [InlineData("token", HttpStatusCode.Unauthorized)]
    [InlineData("app", HttpStatusCode.Forbidden)]
    [InlineData("garbage", HttpStatusCode.BadRequest)]
    [InlineData("wrongkey", HttpStatusCode.BadRequest)]
    public async Task RefusedPush_NothingStored(string variant, HttpStatusCode expected)
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.QuiesceAsync();
        var store = h.App.Services.GetRequiredService<BackgroundCache.Stores.IPushedTicketStore>();
        var before = await store.GetTicketAsync($"feishu:store:{StoreAppHarness.AppId}:app_ticket");
        var at = h.Time.GetUtcNow().AddMinutes(1);
        var (ts, nonce, body, signature) = variant switch
        {
            "token" => SignedTicket("evil", StoreAppHarness.AppId, "other-token", at),
            "app" => SignedTicket("evil", "cli_other", StoreAppHarness.VerificationToken, at),
            _ => SignedTicket("evil", StoreAppHarness.AppId, StoreAppHarness.VerificationToken, at),
        };
        if (variant == "forged")
        {
            signature = new string('0', 64);
        }
        else if (variant == "garbage")
        {
            body = "{\"encrypt\":\"not base64!\"}";
            signature = IndependentFeishuCrypto.Sign(ts, nonce, StoreAppHarness.EncryptKey, body);
        }
        else if (variant == "wrongkey")
        {
            body = JsonSerializer.Serialize(new { encrypt = IndependentFeishuCrypto.Encrypt("another key", "{\"type\":\"event_callback\"}") });
            signature = IndependentFeishuCrypto.Sign(ts, nonce, StoreAppHarness.EncryptKey, body);
        }

        var (status, _) = variant == "unsigned" ? await h.PostAsync(body) : await h.PostAsync(body, ts, nonce, signature);

        status.Should().Be(expected);
        (await store.GetTicketAsync($"feishu:store:{StoreAppHarness.AppId}:app_ticket")).Should().Be(before);
    }

    [Fact]
    public async Task EmulatorPush_DecryptsWithTheIndependentImplementation()
    {
        var plain = "{\"type\":\"event_callback\",\"event\":{\"type\":\"app_ticket\"}}";
        var encrypted = Testing.FeishuEmulator.Encrypt("some key", plain);

        IndependentFeishuCrypto.Decrypt("some key", encrypted).Should().Be(plain);
        FeishuEventCrypto.Decrypt("some key", encrypted).Should().Be(plain);
    }

    private static string Encrypted(object payload) =>
        JsonSerializer.Serialize(new { encrypt = IndependentFeishuCrypto.Encrypt(StoreAppHarness.EncryptKey, JsonSerializer.Serialize(payload)) });

    private static (string Timestamp, string Nonce, string Body, string Signature) SignedTicket(string ticket, string appId, string token, DateTimeOffset at)
    {
        var body = Encrypted(new
        {
            ts = (at.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture),
            uuid = Guid.NewGuid().ToString("N"),
            token,
            type = "event_callback",
            @event = new { app_id = appId, app_ticket = ticket, type = "app_ticket" },
        });
        var ts = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        const string nonce = "test-nonce";
        return (ts, nonce, body, IndependentFeishuCrypto.Sign(ts, nonce, StoreAppHarness.EncryptKey, body));
    }
}
