using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.WeCom.Tests;

public sealed class HandlerAndTicketTests
{
    [Fact]
    public async Task Handler_AttachesTheToken_AndRetriesOnceAfterAnEarlyInvalidation()
    {
        await using var h = await WeComHarness.StartAsync(services: (s, e) =>
            s.AddHttpClient("wecom", c => c.BaseAddress = e.BaseAddress).AddWeComAccessTokenHandler(WeComHarness.Name));
        var client = h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wecom");

        (await ErrorCodeAsync(client, $"cgi-bin/agent/get?agentid={WeComHarness.HrAgentId}")).Should().Be(0);
        h.Emulator.InvalidateTokens(WeComHarness.CorpId, WeComHarness.HrSecret);
        var afterInvalidation = await ErrorCodeAsync(client, $"cgi-bin/agent/get?agentid={WeComHarness.HrAgentId}");

        afterInvalidation.Should().Be(0, "the handler reported the refused token and retried with the new one");
        h.Emulator.ApiCalls.Should().Be(3);
        h.Emulator.RejectedApiCalls.Should().Be(1);
        h.Emulator.GetTokenCalls.Should().Be(2);
    }

    [Fact]
    public async Task Handler_DoesNotRetry301002_TheTokenOfAnotherApp()
    {
        await using var h = await WeComHarness.StartAsync(services: (s, e) =>
            s.AddHttpClient("wecom", c => c.BaseAddress = e.BaseAddress).AddWeComAccessTokenHandler(WeComHarness.Name));
        var client = h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wecom");

        var code = await ErrorCodeAsync(client, $"cgi-bin/agent/get?agentid={WeComHarness.CrmAgentId}");

        code.Should().Be(301002);
        h.Emulator.ApiCalls.Should().Be(1);
        h.Emulator.GetTokenCalls.Should().Be(1);
    }

    [Theory]
    [InlineData(40014)]
    [InlineData(42001)]
    public async Task Handler_SecondRefusal_IsReturnedNotRetried_AndTheBodyIsSentTwice(int refusal)
    {
        var upstream = new AlwaysRefusing(refusal);
        await using var h = await WeComHarness.StartAsync(services: (s, _) =>
            s.AddHttpClient("wecom", c => c.BaseAddress = new Uri("http://wecom.invalid/"))
                .ConfigurePrimaryHttpMessageHandler(() => upstream)
                .AddWeComAccessTokenHandler(WeComHarness.Name));
        var client = h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wecom");

        using var response = await client.PostAsync("cgi-bin/message/send?debug=1", new StringContent("{\"touser\":\"@all\"}", Encoding.UTF8, "application/json"));

        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("errcode").GetInt32().Should().Be(refusal);
        upstream.Bodies.Should().Equal("{\"touser\":\"@all\"}", "{\"touser\":\"@all\"}");
        upstream.Tokens.Should().HaveCount(2).And.OnlyHaveUniqueItems();
        upstream.Queries.Should().AllSatisfy(q => q.Should().Contain("debug=1"));
        h.Emulator.GetTokenCalls.Should().Be(2, "one invalidation, one replacement, no third attempt");
    }

    [Fact]
    public async Task JsSdkTickets_CorpAndAgent_FetchedWithTheAppsTokenAndSigned()
    {
        await using var h = await WeComHarness.StartAsync(services: (s, _) =>
        {
            s.AddWeComJsApiTicket(WeComHarness.Name);
            s.AddWeComAgentConfigTicket(WeComHarness.Name);
        });
        var corp = await h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeComJsApiTicket>>(WeComHarness.Name).GetAsync();
        var agent = await h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeComAgentConfigTicket>>(WeComHarness.Name).GetAsync();

        corp.Value.Should().NotBe(agent.Value);
        corp.ExpiresAt.Should().Be(h.Time.GetUtcNow().AddHours(2));
        h.Emulator.CorpTicketCalls.Should().Be(1);
        h.Emulator.AgentTicketCalls.Should().Be(1);
        corp.ToString().Should().NotContain(corp.Value);
        agent.CreateSignature("nonce", 1700000000, "https://example.com/page?x=1#frag")
            .Should().Be(IndependentSha1($"jsapi_ticket={agent.Value}&noncestr=nonce&timestamp=1700000000&url=https://example.com/page?x=1"));
    }

    [Fact]
    public void Signature_MatchesTheDocumentedExample()
    {
        // The JS-SDK documentation's worked example (附录1).
        WeComJsSdk.CreateSignature(
            "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            "Wm3WZYTPz0wzccnW",
            1414587457,
            "http://mp.weixin.qq.com?params=value#top").Should().Be("0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    [Fact]
    public async Task Ticket_WithARefusedToken_ReportsTheTokenAndSucceedsWithItsReplacement()
    {
        await using var h = await WeComHarness.StartAsync(services: (s, _) => s.AddWeComJsApiTicket(WeComHarness.Name));
        var tickets = h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeComJsApiTicket>>(WeComHarness.Name);
        var first = await h.Cache.GetAsync();

        // The ticket's first load first: a forced refresh while it is still in flight joins it, and that attempt may
        // have fetched with the token before the emulator refused it (then nothing is reported: 1 CI failure).
        await tickets.GetAsync();
        h.Emulator.InvalidateTokens(WeComHarness.CorpId, WeComHarness.HrSecret);

        var ticket = await tickets.RefreshAsync();

        ticket.Value.Should().NotBeNullOrEmpty();
        (await h.Cache.GetAsync()).Value.Should().NotBe(first.Value);
        h.Emulator.GetTokenCalls.Should().Be(2);
    }

    private static async Task<int> ErrorCodeAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errcode").GetInt32();
    }

    private static string IndependentSha1(string text)
    {
#pragma warning disable CA5350 // The JS-SDK signature is SHA-1.
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(text));
#pragma warning restore CA5350
        return string.Concat(hash.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    private sealed class AlwaysRefusing(int code) : HttpMessageHandler
    {
        public List<string> Bodies { get; } = [];

        public List<string> Tokens { get; } = [];

        public List<string> Queries { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Bodies.Add(await request.Content!.ReadAsStringAsync(cancellationToken));
            var query = request.RequestUri!.Query;
            Queries.Add(query);
            Tokens.Add(query.Split('&').Single(p => p.TrimStart('?').StartsWith("access_token=", StringComparison.Ordinal)));
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent($"{{\"errcode\":{code},\"errmsg\":\"invalid access_token\"}}", Encoding.UTF8, "application/json"),
            };
        }
    }
}
