using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary><c>POST /tickets/{name}/signature</c>, checked against an implementation of WeChat's JS-SDK signature written here.</summary>
public sealed class SignatureTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await HubHost.StartEmulatorAsync(_time);

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    /// <summary>
    /// WeChat's algorithm as its JS-SDK appendix states it: the four fields sorted by name (ASCII), joined as URL key=value
    /// pairs with '&amp;', unescaped, hashed with SHA-1, lower-case hex. Written independently of the library's helper.
    /// </summary>
    private static string IndependentSignature(string ticket, string nonceStr, long timestamp, string url)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["url"] = url,
            ["timestamp"] = timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["noncestr"] = nonceStr,
            ["jsapi_ticket"] = ticket,
        };
        var text = string.Join('&', fields.Select(f => f.Key + "=" + f.Value));
#pragma warning disable CA5350 // WeChat defines the signature as SHA-1.
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
        return string.Concat(hash.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void IndependentSignature_MatchesWeChatsDocumentedExample()
    {
        // The JS-SDK documentation's appendix 1 example.
        IndependentSignature("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg", "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
            .Should().Be("0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    [Fact]
    public async Task Signature_IsWeChatsSignatureOfThePageWithoutItsFragment()
    {
        await using var hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(_emulator), _time);
        var ticket = (await hub.GetJsonAsync("tickets/a", "key-all")).GetProperty("ticket").GetString()!;

        using var response = await hub.SendAsync(HttpMethod.Post, "tickets/a/signature", "key-a", new { url = "https://shop.example.com/pay?order=42&from=menu#/cart" });

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        answer.GetProperty("appId").GetString().Should().Be("wx-a");
        var timestamp = answer.GetProperty("timestamp").GetInt64();
        timestamp.Should().Be(_time.GetUtcNow().ToUnixTimeSeconds());
        var nonce = answer.GetProperty("nonceStr").GetString()!;
        nonce.Should().HaveLength(16);
        answer.GetProperty("signature").GetString().Should().Be(IndependentSignature(ticket, nonce, timestamp, "https://shop.example.com/pay?order=42&from=menu"));
        (await response.Content.ReadAsStringAsync()).Should().NotContain(ticket, "front-end services never see the ticket");
    }

    [Fact]
    public async Task Signature_IsAuthorizedPerClient_CheckedAndLimited()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings["TokenHub:SignaturePermitLimit"] = "2";
        await using var hub = await HubHost.StartAsync(settings, _time);
        var page = new { url = "https://shop.example.com/" };

        using (var other = await hub.SendAsync(HttpMethod.Post, "tickets/a/signature", "key-b1", page))
        {
            other.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        }

        using (var none = await hub.SendAsync(HttpMethod.Post, "tickets/b/signature", "key-b1", page))
        {
            none.StatusCode.Should().Be(HttpStatusCode.NotFound, "app b keeps no ticket");
        }

        using (var relative = await hub.SendAsync(HttpMethod.Post, "tickets/a/signature", "key-a", new { url = "/pay" }))
        {
            relative.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        }

        using (var second = await hub.SendAsync(HttpMethod.Post, "tickets/a/signature", "key-a", page))
        {
            second.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        using var third = await hub.SendAsync(HttpMethod.Post, "tickets/a/signature", "key-a", page);
        third.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        third.Headers.RetryAfter.Should().NotBeNull();
        using var otherClient = await hub.SendAsync(HttpMethod.Post, "tickets/a/signature", "key-all", page);
        otherClient.StatusCode.Should().Be(HttpStatusCode.OK, "the limit is per client");
    }
}
