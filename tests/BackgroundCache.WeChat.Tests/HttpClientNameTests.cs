using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Tests;

/// <summary>Token calls go through the IHttpClientFactory client the user names (a proxy for a whitelisted egress IP).</summary>
public sealed class HttpClientNameTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TokenAndTicketCalls_GoThroughTheUserNamedClient()
    {
        var egress = new CountingHandler();
        await using var harness = await WeChatHarness.StartAsync(
            services: s =>
            {
                s.Configure<WeChatOptions>(WeChatHarness.Name, o => o.HttpClientName = "wechat-egress");
                s.AddHttpClient("wechat-egress").AddHttpMessageHandler(() => egress);
                s.AddWeChatJsApiTicket(WeChatHarness.Name);
            });

        var token = await harness.Cache.GetAsync().AsTask().WaitAsync(Guard);
        var ticket = await harness.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(WeChatHarness.Name).GetAsync().AsTask().WaitAsync(Guard);

        harness.Emulator.ValidateAccessToken(token.Value).Should().Be(0);
        ticket.Value.Should().NotBeNullOrEmpty();
        egress.Paths.Should().Contain(p => p.Contains("/cgi-bin/stable_token", StringComparison.Ordinal))
            .And.Contain(p => p.Contains("/cgi-bin/ticket/getticket", StringComparison.Ordinal));
    }

    [Fact]
    public async Task WithoutASetting_TheDefaultClientIsUsed_AndAnEmptyNameIsRefusedAtStart()
    {
        await using (var harness = await WeChatHarness.StartAsync())
        {
            harness.Host.Services.GetRequiredService<IOptionsMonitor<WeChatOptions>>().Get(WeChatHarness.Name).HttpClientName
                .Should().Be(WeChatOptions.DefaultHttpClientName);
            (await harness.Cache.GetAsync().AsTask().WaitAsync(Guard)).Value.Should().NotBeNullOrEmpty();
        }

        await using var bad = await WeChatHarness.StartAsync(services: s => s.Configure<WeChatOptions>(WeChatHarness.Name, o => o.HttpClientName = " "), start: false);
        var start = () => bad.Host.StartAsync();
        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("WeChatOptions.HttpClientName");
    }

    private sealed class CountingHandler : DelegatingHandler
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Paths { get; } = new();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Paths.Enqueue(request.RequestUri!.AbsolutePath);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
