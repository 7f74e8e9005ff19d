using System.Text.Json;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Tests;

public sealed class WeChatAccessTokenTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(WeChatTokenMode.StableToken)]
    [InlineData(WeChatTokenMode.Token)]
    public async Task SimulatedDay_RealHttp_AtMostThirteenCallsAndEveryTokenReadIsValid(WeChatTokenMode mode)
    {
        await using var h = await WeChatHarness.StartAsync(mode);
        await h.WaitIdleAsync();
        var start = h.Time.GetUtcNow();
        var reads = 0;
        var invalid = 0;

        while (h.Time.GetUtcNow() < start.AddDays(1))
        {
            h.Cache.TryGetValue(out var token).Should().BeTrue();
            reads++;
            if (h.Emulator.ValidateAccessToken(token!.Value) != 0)
            {
                invalid++;
            }

            await h.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        h.Emulator.TokenCalls.Should().BeLessThanOrEqualTo(13);
        reads.Should().Be(1440);
        invalid.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task SimulatedDay_StableTokenWithLeadLongerThanItsWindow_ThirteenCallsAndWaitsForTheWindow()
    {
        // WeChat hands back the same stable token until its last 5 minutes: a 10-minute lead used to fetch it again and
        // again (32 calls a day); the source declares the window, and the refresh waits for it.
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.StableToken, o => o.RefreshBeforeExpiry = TimeSpan.FromMinutes(10));
        await h.WaitIdleAsync();
        var start = h.Time.GetUtcNow();
        var invalid = 0;
        h.Cache.Status.WaitingForRenewalWindow.Should().BeTrue();

        while (h.Time.GetUtcNow() < start.AddDays(1))
        {
            h.Cache.TryGetValue(out var token).Should().BeTrue();
            if (h.Emulator.ValidateAccessToken(token!.Value) != 0)
            {
                invalid++;
            }

            await h.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        h.Emulator.TokenCalls.Should().BeInRange(12, 14);
        invalid.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task Status_ClassicTokenWithLongLead_RefreshesOnTheLead()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, o => o.RefreshBeforeExpiry = TimeSpan.FromMinutes(10));
        await h.WaitIdleAsync();

        var status = h.Cache.Status;

        status.WaitingForRenewalWindow.Should().BeFalse();
        (status.ExpiresAt - status.NextRefreshAt).Should().BeGreaterThanOrEqualTo(TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task SystemBusy_IsRetriedWithBackoffUntilItLoads()
    {
        await using var h = await WeChatHarness.StartAsync(
            cacheOptions: o => o.RetryInitialDelay = TimeSpan.FromSeconds(2),
            start: false);
        h.Emulator.InjectFault(WeChatFault.Error(-1, "system error"), 3);
        await h.Host.StartAsync();
        await h.WaitIdleAsync();
        var delays = new List<TimeSpan>();

        while (!h.Cache.TryGetValue(out _))
        {
            h.Cache.Status.LastError.Should().BeOfType<WeChatApiException>().Which.Kind.Should().Be(WeChatErrorKind.Transient);
            delays.Add(await h.AdvanceToNextRefreshAsync());
        }

        h.Emulator.TokenCalls.Should().Be(4);
        delays.Should().HaveCount(3);
        delays[0].Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(1)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(2));
        delays[1].Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(2)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(4));
        delays[2].Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(4)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(8));
    }

    [Theory]
    [InlineData(40125, "invalid appsecret", "WeChatOptions.AppSecret")]
    [InlineData(40164, "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist", "203.0.113.7")]
    public async Task ConfigurationError_KeepsTokenLogsOnceAndRetriesNoFasterThanRetryMaxDelay(int errcode, string errmsg, string fix)
    {
        await using var h = await WeChatHarness.StartAsync(cacheOptions: o => o.RetryMaxDelay = TimeSpan.FromSeconds(40));
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        h.Emulator.InjectFault(WeChatFault.Error(errcode, errmsg), 5);
        await h.AdvanceToNextRefreshAsync();
        var delays = new List<TimeSpan>();

        for (var i = 0; i < 4; i++)
        {
            delays.Add(await h.AdvanceToNextRefreshAsync());
        }

        delays.Should().OnlyContain(d => d >= TimeSpan.FromSeconds(40));
        (await h.Cache.GetAsync()).Should().Be(token);
        var error = h.Cache.Status.LastError.Should().BeOfType<WeChatApiException>().Subject;
        error.ErrorCode.Should().Be(errcode);
        error.IsConfigurationError.Should().BeTrue();
        error.Message.Should().Contain(fix);
        var configLogs = h.Logs.GetSnapshot().Where(r => r.Id.Id == 2001).ToList();
        configLogs.Should().ContainSingle().Which.Message.Should().Contain(fix);
        configLogs[0].Level.Should().Be(LogLevel.Error);
    }

    [Fact]
    public async Task ConfigurationError_ReportsUnhealthyWhileStillServingTheToken()
    {
        await using var h = await WeChatHarness.StartAsync(build: b => b.WithHealthCheck());
        await h.WaitIdleAsync();
        h.Emulator.InjectFault(WeChatFault.Error(40125, "invalid appsecret"), 10);

        await h.AdvanceToNextRefreshAsync();

        h.Cache.TryGetValue(out _).Should().BeTrue();
        var report = await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        report.Status.Should().Be(HealthStatus.Unhealthy);
    }

    [Fact]
    public async Task DailyQuota_BacksOffUntilTheResetAndBlocksOnDemandCalls()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token);
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        h.Emulator.InjectFault(WeChatFault.Error(45009, "reach max api daily quota limit"), 100);
        await h.AdvanceToNextRefreshAsync();
        var calls = h.Emulator.TokenCalls;

        var act = () => h.Cache.RefreshAsync();

        (await act.Should().ThrowAsync<WeChatApiException>()).Which.Kind.Should().Be(WeChatErrorKind.QuotaExhausted);
        h.Emulator.TokenCalls.Should().Be(calls, "no call while the quota is exhausted");
        var resetInShanghai = new DateTimeOffset(2026, 11, 25, 16, 0, 0, TimeSpan.Zero);
        h.Cache.Status.NextRefreshAt.Should().BeOnOrAfter(resetInShanghai);
        (await h.Cache.GetAsync()).Should().Be(token);
        h.Logs.GetSnapshot().Where(r => r.Id.Id == 2002).Should().ContainSingle();
    }

    public static TheoryData<string, WeChatFault> BadAnswers => new()
    {
        { "malformed JSON", WeChatFault.MalformedJson() },
        { "HTML error page", WeChatFault.HtmlErrorPage() },
        { "missing access_token", WeChatFault.Body("{\"expires_in\":7200}") },
        { "expires_in 0", WeChatFault.Body("{\"access_token\":\"80_x\",\"expires_in\":0}") },
        { "expires_in negative", WeChatFault.Body("{\"access_token\":\"80_x\",\"expires_in\":-5}") },
        { "expires_in absurd", WeChatFault.Body("{\"access_token\":\"80_x\",\"expires_in\":999999999}") },
        { "token too long", WeChatFault.Body($"{{\"access_token\":\"{new string('a', 600)}\",\"expires_in\":7200}}") },
        { "JSON array", WeChatFault.Body("[1,2]") },
        { "HTTP 500", WeChatFault.HttpStatus(500) },
        { "connection reset", WeChatFault.ConnectionReset() },
    };

    [Theory]
    [MemberData(nameof(BadAnswers))]
    public async Task BadAnswer_FailsWithWeChatApiExceptionAndKeepsLastToken(string description, WeChatFault fault)
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token);
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        h.Emulator.InjectFault(fault);

        var act = () => h.Cache.RefreshAsync();

        var error = (await act.Should().ThrowAsync<WeChatApiException>(description)).Which;
        error.IsTransient.Should().BeTrue();
        error.Message.Should().NotContain(WeChatHarness.AppSecret);
        (await h.Cache.GetAsync()).Should().Be(token);
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Stale);
    }

    [Fact]
    public async Task HangingAnswer_IsEndedByFetchTimeoutAndKeepsLastToken()
    {
        await using var h = await WeChatHarness.StartAsync(cacheOptions: o => o.FetchTimeout = TimeSpan.FromSeconds(10));
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        h.Emulator.InjectFault(WeChatFault.Hang());

        var refresh = h.Cache.RefreshAsync();
        await h.WaitForTokenCallsAsync(2);
        h.Time.Advance(TimeSpan.FromSeconds(10));
        var act = () => refresh;

        await act.Should().ThrowAsync<TimeoutException>();
        (await h.Cache.GetAsync()).Should().Be(token);
    }

    [Fact]
    public async Task Handler_RequestGets40001_RetriesOnceWithFreshTokenAndHundredRequestsRefreshOnce()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, services: s =>
            s.AddHttpClient("wechat-api").AddWeChatAccessTokenHandler(WeChatHarness.Name));
        await h.WaitIdleAsync();
        var client = h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wechat-api");
        var probe = new Uri(h.Emulator.BaseAddress, "cgi-bin/get_api_domain_ip?lang=en");
        (await GetErrcodeAsync(client, probe)).Should().Be(0);

        // Another process calls cgi-bin/token: our token dies once the 5-minute overlap has passed.
        using (var intruder = new HttpClient())
        {
            await intruder.GetStringAsync(new Uri(h.Emulator.BaseAddress, $"cgi-bin/token?grant_type=client_credential&appid={WeChatHarness.AppId}&secret={WeChatHarness.AppSecret}"));
        }

        await h.AdvanceAsync(TimeSpan.FromMinutes(5));
        var before = h.Emulator.ClassicTokenCalls;
        var rejectedBefore = h.Emulator.RejectedApiCalls;
        var apiBefore = h.Emulator.ApiCalls;

        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() => GetErrcodeAsync(client, probe)))).WaitAsync(Guard);

        results.Should().OnlyContain(code => code == 0);
        h.Emulator.ClassicTokenCalls.Should().Be(before + 1);
        var rejected = h.Emulator.RejectedApiCalls - rejectedBefore;
        rejected.Should().BeInRange(1, 100, "requests that started before the refresh met the dead token");
        (h.Emulator.ApiCalls - apiBefore).Should().Be(100 + rejected, "each rejected request was retried exactly once");
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2004);
    }

    [Fact]
    public async Task Invalidate_StableModeReturnsSameToken_DoesNotForceAndLogs()
    {
        await using var h = await WeChatHarness.StartAsync();
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();

        var replacement = await h.Cache.InvalidateAsync(token);

        replacement.Should().Be(token);
        h.Emulator.ForcedRefreshCalls.Should().Be(0);
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 2006);
    }

    [Fact]
    public async Task ForceRefreshAsync_IssuesNewTokenInvalidatesOldAndHonoursThirtySecondSpacing()
    {
        await using var h = await WeChatHarness.StartAsync();
        await h.WaitIdleAsync();
        var old = await h.Cache.GetAsync();
        var source = h.Host.Services.GetRequiredKeyedService<WeChatAccessTokenSource>(WeChatHarness.Name);

        var forced = await source.ForceRefreshAsync();
        var tooSoon = () => source.ForceRefreshAsync();

        forced.Should().NotBe(old);
        (await h.Cache.GetAsync()).Should().Be(forced);
        h.Emulator.ValidateAccessToken(old.Value).Should().Be(40001);
        (await tooSoon.Should().ThrowAsync<WeChatApiException>()).Which.Kind.Should().Be(WeChatErrorKind.RateLimited);
        h.Emulator.ForcedRefreshCalls.Should().Be(1);
    }

    [Fact]
    public async Task RepeatedInvalidations_OpenTheBreakerInsteadOfCallingWeChat()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, build: b => b.WithHealthCheck());
        await h.WaitIdleAsync();

        for (var i = 0; i < 10; i++)
        {
            // Each classic call issues a new token that is "rejected" again: something keeps invalidating it. Reports come
            // 31 s apart, past InvalidationCooldown (reports within it do not call WeChat at all).
            await h.AdvanceAsync(TimeSpan.FromSeconds(31));
            var current = await h.Cache.GetAsync();
            try
            {
                await h.Cache.InvalidateAsync(current);
            }
            catch (WeChatApiException)
            {
                // The breaker refused.
            }
        }

        h.Emulator.TokenCalls.Should().Be(6, "the initial load and five invalidations reach WeChat; then the breaker opens");
        h.Cache.Status.LastError.Should().BeOfType<WeChatApiException>().Which.Kind.Should().Be(WeChatErrorKind.BreakerOpen);
        h.Cache.TryGetValue(out _).Should().BeTrue();
        (await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status.Should().Be(HealthStatus.Unhealthy);
        h.Logs.GetSnapshot().Where(r => r.Id.Id == 2003).Should().ContainSingle();
    }

    [Fact]
    public async Task JsApiTicket_IsFetchedWithTheTokenAndSignsPages()
    {
        await using var h = await WeChatHarness.StartAsync(services: s => s.AddWeChatJsApiTicket(WeChatHarness.Name));
        var tickets = h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(WeChatHarness.Name);

        var ticket = await tickets.GetAsync().AsTask().WaitAsync(Guard);

        h.Emulator.TicketCalls.Should().Be(1);
        ticket.ExpiresAt.Should().Be(h.Time.GetUtcNow().AddSeconds(7200));
        ticket.ToString().Should().NotContain(ticket.Value);
        ticket.CreateSignature("Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#frag")
            .Should().MatchRegex("^[0-9a-f]{40}$")
            .And.Be(ticket.CreateSignature("Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value"));
    }

    [Fact]
    public async Task JsApiTicket_TokenInvalidated_IsFetchedAgainWithTheNewToken()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, services: s => s.AddWeChatJsApiTicket(WeChatHarness.Name));
        var tickets = h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(WeChatHarness.Name);
        var first = await tickets.GetAsync().AsTask().WaitAsync(Guard);
        var token = await h.Cache.GetAsync();

        await h.Cache.InvalidateAsync(token);

        // The invalidation asked for the ticket's re-fetch; wait for it (a RefreshAsync here would race it: if the re-fetch
        // had already ended, RefreshAsync would start a third call).
        using var cts = new CancellationTokenSource(Guard);
        WeChatJsApiTicket? second;
        while (!tickets.TryGetValue(out second) || second == first || !tickets.Status.LastRefreshedAt.HasValue || h.Emulator.TicketCalls < 2)
        {
            await Task.Yield();
            cts.Token.ThrowIfCancellationRequested();
        }

        second.Should().NotBe(first);
        h.Emulator.TicketCalls.Should().Be(2);
    }

    [Fact]
    public async Task SlowAnswer_ArrivesWhenTheEmulatorClockPasses()
    {
        await using var h = await WeChatHarness.StartAsync(cacheOptions: o => o.FetchTimeout = TimeSpan.FromMinutes(1));
        await h.WaitIdleAsync();
        h.Emulator.InjectFault(WeChatFault.Delay(TimeSpan.FromSeconds(20)));

        var refresh = h.Cache.RefreshAsync();
        await h.WaitForHeldCallsAsync(1); // the call's 20 s delay is armed on the fake clock
        refresh.IsCompleted.Should().BeFalse();
        h.Time.Advance(TimeSpan.FromSeconds(20));

        (await refresh.WaitAsync(Guard)).Should().NotBeNull();
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public void JsApiTicket_Signature_MatchesWeChatsDocumentedExample()
    {
        var ticket = new WeChatJsApiTicket("sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg", DateTimeOffset.MaxValue);

        ticket.CreateSignature("Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value")
            .Should().Be("0f9de62fce790f9a083d5c99e95740ceb90c27ed");
    }

    [Fact]
    public async Task MissingAppSecret_FailsStartNamingTheSetting()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWeChatAccessToken("shop", o => o.AppId = "wx1");
        using var host = builder.Build();

        var act = () => host.StartAsync();

        (await act.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("WeChatOptions.AppSecret").And.Contain("'shop'");
    }

    [Fact]
    public async Task SeveralApps_InOneHost_AreSeparateCaches()
    {
        var options = new WeChatEmulatorOptions();
        options.Apps["wxA"] = "secret-a";
        options.Apps["wxB"] = "secret-b";
        await using var emulator = await WeChatEmulator.StartAsync(options);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWeChatAccessToken("a", o => { o.AppId = "wxA"; o.AppSecret = "secret-a"; o.BaseAddress = emulator.BaseAddress; });
        builder.Services.AddWeChatAccessToken("b", o => { o.AppId = "wxB"; o.AppSecret = "secret-b"; o.BaseAddress = emulator.BaseAddress; });
        using var host = builder.Build();
        await host.StartAsync();

        var a = await host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("a").GetAsync();
        var b = await host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("b").GetAsync();

        a.Should().NotBe(b);
        emulator.ValidateAccessToken(a.Value).Should().Be(0);
        emulator.ValidateAccessToken(b.Value).Should().Be(0);
        await host.StopAsync();
    }

    [Fact]
    public async Task SecretsAndTokens_NeverAppearInLogsOrExceptionMessages()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, services: s =>
            s.AddHttpClient("wechat-api").AddWeChatAccessTokenHandler(WeChatHarness.Name));
        await h.WaitIdleAsync();
        var client = h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wechat-api");
        var errors = new List<Exception>();

        await GetErrcodeAsync(client, new Uri(h.Emulator.BaseAddress, "cgi-bin/getcallbackip"));
        foreach (var fault in new[]
                 {
                     WeChatFault.Error(40125, $"invalid appsecret {WeChatHarness.AppSecret}"), WeChatFault.Error(40164, "invalid ip 1.2.3.4"),
                     WeChatFault.Error(-1, "system error"), WeChatFault.HtmlErrorPage(), WeChatFault.MalformedJson(), WeChatFault.ConnectionReset(),
                 })
        {
            h.Emulator.InjectFault(fault);
            try
            {
                await h.Cache.RefreshAsync();
            }
            catch (Exception ex)
            {
                errors.Add(ex);
            }
        }

        await h.Cache.RefreshAsync();
        await h.AdvanceAsync(TimeSpan.FromHours(3));

        var secrets = h.Emulator.GetIssuedSecrets().Append(WeChatHarness.AppSecret).ToList();
        var texts = h.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception)
            .Concat(errors.Select(e => e.ToString()))
            .Append(h.Cache.Status.LastError?.ToString() ?? string.Empty)
            .ToList();
        texts.Should().Contain(t => t.Contains("cgi-bin/token", StringComparison.Ordinal), "HttpClient's own request logs are captured too");
        errors.Should().HaveCount(6);
        texts.Should().HaveCountGreaterThan(10);
        secrets.Should().HaveCountGreaterThan(3);
        foreach (var secret in secrets)
        {
            texts.Should().NotContain(t => t.Contains(secret, StringComparison.Ordinal));
        }
    }

    private static async Task<int> GetErrcodeAsync(HttpClient client, Uri uri)
    {
        var body = await client.GetStringAsync(uri);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.TryGetProperty("errcode", out var code) ? code.GetInt32() : 0;
    }
}
