using System.Net;
using System.Net.Http.Json;
using BackgroundCache.Feishu.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Feishu.Tests;

public sealed class FeishuHandlerTests
{
    [Fact]
    public async Task Call_AttachesBearerToken_EmulatorAccepts()
    {
        await using var h = await FeishuHarness.StartAsync(services: s => s.AddHttpClient("api").AddFeishuTenantAccessTokenHandler(FeishuHarness.Name));
        var client = Client(h);

        using var response = await client.GetAsync(new Uri(h.Emulator.BaseAddress, "open-apis/im/v1/chats"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        h.Emulator.ApiCalls.Should().Be(1);
        h.Emulator.RejectedApiCalls.Should().Be(0);
    }

    [Fact]
    public async Task RevokedToken_99991663_ReportedAndRetriedOnceWithTheNewToken()
    {
        await using var h = await FeishuHarness.StartAsync(services: s => s.AddHttpClient("api").AddFeishuTenantAccessTokenHandler(FeishuHarness.Name));
        h.Cache.TryGetValue(out var first).Should().BeTrue();
        h.Emulator.Revoke(first!.Value);
        var client = Client(h);

        using var response = await client.PostAsJsonAsync(new Uri(h.Emulator.BaseAddress, "open-apis/im/v1/messages"), new { content = "hello" });

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        h.Emulator.ApiCalls.Should().Be(2);
        h.Emulator.RejectedApiCalls.Should().Be(1);
        h.Cache.TryGetValue(out var second).Should().BeTrue();
        second!.Value.Should().NotBe(first.Value);
        h.Emulator.InternalTokenCalls.Should().Be(2);
    }

    [Fact]
    public async Task SecondRejection_ReturnedAsItIs_NoThirdSend()
    {
        FeishuEmulator? emulator = null;
        await using var h = await FeishuHarness.StartAsync(services: s => s.AddHttpClient("api")
            .AddFeishuTenantAccessTokenHandler(FeishuHarness.Name)
            .AddHttpMessageHandler(() => new RevokingHandler(() => emulator!)));
        emulator = h.Emulator;
        var client = Client(h);

        using var response = await client.GetAsync(new Uri(h.Emulator.BaseAddress, "open-apis/im/v1/chats"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await response.Content.ReadAsStringAsync()).Should().Contain("99991663");
        h.Emulator.ApiCalls.Should().Be(2);
        h.Emulator.RejectedApiCalls.Should().Be(2);
    }

    [Fact]
    public async Task SameTokenAfterReport_NotRetried()
    {
        // Feishu hands back the token held while 30 minutes remain: a rejection the issuer refutes is not sent again.
        await using var h = await FeishuHarness.StartAsync(services: s => s.AddHttpClient("api")
            .AddFeishuTenantAccessTokenHandler(FeishuHarness.Name)
            .AddHttpMessageHandler(() => new RejectingHandler()));
        var client = Client(h);

        using var response = await client.GetAsync(new Uri(h.Emulator.BaseAddress, "open-apis/im/v1/chats"));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        RejectingHandler.Sends.Should().Be(1);
    }

    private static HttpClient Client(FeishuHarness h) => h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("api");

    /// <summary>Revokes each token it forwards, so every send is rejected.</summary>
    private sealed class RevokingHandler(Func<FeishuEmulator> emulator) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            emulator().Revoke(request.Headers.Authorization!.Parameter!);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Answers every request 401 with 99991677 without sending it.</summary>
    private sealed class RejectingHandler : DelegatingHandler
    {
        private static int _sends;

        public static int Sends => Volatile.Read(ref _sends);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _sends);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.Unauthorized)
            {
                Content = new StringContent("{\"code\":99991677,\"msg\":\"Authentication token expired.\"}", System.Text.Encoding.UTF8, "application/json"),
            });
        }
    }
}
