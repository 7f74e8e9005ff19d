using System.Net;
using System.Text.Json;
using BackgroundCache.Feishu.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Feishu.Tests;

public sealed class EmulatorPushTests
{
    [Fact]
    public async Task Push_BodyAsFeishuWritesIt_SignatureHoldsOverTheBodyAndItsReserialization()
    {
        // Receivers such as @larksuiteoapi/node-sdk sign JSON.stringify(parsed body): an escaped "+" (\u002B) in the Base64
        // would break them. The push must be exactly {"encrypt":"…"} with the Base64 as is.
        string? body = null, ts = null, nonce = null, signature = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var receiver = builder.Build();
        receiver.MapPost("/events", async (HttpContext ctx) =>
        {
            using var reader = new StreamReader(ctx.Request.Body);
            body = await reader.ReadToEndAsync();
            ts = ctx.Request.Headers["X-Lark-Request-Timestamp"];
            nonce = ctx.Request.Headers["X-Lark-Request-Nonce"];
            signature = ctx.Request.Headers["X-Lark-Signature"];
            return Results.Json(new { });
        });
        await receiver.StartAsync();
        var options = new FeishuEmulatorOptions();
        options.StoreApps["cli_x"] = new FeishuEmulatorStoreApp
        {
            AppSecret = "s",
            VerificationToken = "vt",
            EncryptKey = "ek",
            EventEndpoint = new Uri(receiver.Urls.First().TrimEnd('/') + "/events"),
        };
        await using var emulator = await FeishuEmulator.StartAsync(options);

        for (var i = 0; i < 8; i++)
        {
            (await emulator.PushAppTicketAsync("cli_x")).Should().Be(200);
            var encrypt = JsonDocument.Parse(body!).RootElement.GetProperty("encrypt").GetString()!;
            body.Should().Be("{\"encrypt\":\"" + encrypt + "\"}");
            signature.Should().Be(IndependentFeishuCrypto.Sign(ts!, nonce!, "ek", body!));
            var plain = JsonDocument.Parse(IndependentFeishuCrypto.Decrypt("ek", encrypt)).RootElement;
            plain.GetProperty("token").GetString().Should().Be("vt");
            plain.GetProperty("event").GetProperty("type").GetString().Should().Be("app_ticket");
        }
    }
}
