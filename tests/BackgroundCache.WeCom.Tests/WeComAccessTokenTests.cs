using System.Net;
using BackgroundCache.WeCom.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeCom.Tests;

public sealed class WeComAccessTokenTests
{
    [Fact]
    public async Task SimulatedDay_RealHttp_ThirteenCallsAndEveryTokenReadIsValid()
    {
        await using var h = await WeComHarness.StartAsync();
        await h.WaitIdleAsync();
        var start = h.Time.GetUtcNow();
        var reads = 0;
        var invalid = 0;

        while (h.Time.GetUtcNow() < start.AddDays(1))
        {
            h.Cache.TryGetValue(out var token).Should().BeTrue();
            reads++;
            if (h.Emulator.ValidateAccessToken(token!.Value, WeComHarness.HrAgentId) != 0)
            {
                invalid++;
            }

            await h.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        h.Emulator.GetTokenCalls.Should().Be(13);
        reads.Should().Be(1440);
        invalid.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task TwoAppsOfOneCorp_SeparateTokens_AndACrossedTokenIs301002()
    {
        await using var h = await WeComHarness.StartAsync(services: (s, e) => s.AddWeComAccessToken("crm", o =>
        {
            o.CorpId = WeComHarness.CorpId;
            o.CorpSecret = WeComHarness.CrmSecret;
            o.AgentId = WeComHarness.CrmAgentId;
            o.BaseAddress = e.BaseAddress;
        }));
        var crm = h.Host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("crm");

        var hrToken = await h.Cache.GetAsync();
        var crmToken = await crm.GetAsync();

        hrToken.Value.Should().NotBe(crmToken.Value);
        h.Emulator.GetTokenCalls.Should().Be(2);
        h.Emulator.ValidateAccessToken(hrToken.Value, WeComHarness.HrAgentId).Should().Be(0);
        h.Emulator.ValidateAccessToken(crmToken.Value, WeComHarness.CrmAgentId).Should().Be(0);
        h.Emulator.ValidateAccessToken(hrToken.Value, WeComHarness.CrmAgentId).Should().Be(301002);

        var hrSource = h.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>("hr");
        var crmSource = h.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>("crm");
        hrSource.AppIdentity.Should().NotBe(crmSource.AppIdentity).And.StartWith(WeComHarness.CorpId + "/");
        hrSource.AppIdentity.Should().NotContain(WeComHarness.HrSecret);
        crmSource.AppIdentity.Should().NotContain(WeComHarness.CrmSecret);
        hrSource.Renewal.Should().Be(TokenRenewal.ReplacesOnFetch);
    }

    [Fact]
    public async Task Options_MissingSettings_FailStartNamingEach()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddWeComAccessToken("hr", o => o.AgentId = -1);
        using var host = builder.Build();

        var start = () => host.StartAsync();

        var error = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        error.Failures.Should().Contain(f => f.StartsWith("WeCom:hr:CorpId is required", StringComparison.Ordinal));
        error.Failures.Should().Contain(f => f.StartsWith("WeCom:hr:CorpSecret is required", StringComparison.Ordinal));
        error.Failures.Should().Contain(f => f.StartsWith("WeCom:hr:AgentId must be a positive number", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Options_BindFromASection()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["WeCom:hr:CorpId"] = "wwcorp",
            ["WeCom:hr:CorpSecret"] = "secret",
            ["WeCom:hr:AgentId"] = "1000002",
            ["WeCom:hr:BaseAddress"] = "http://127.0.0.1:1/",
            ["WeCom:hr:HttpClientName"] = "egress",
        }).Build();
        var services = new ServiceCollection();
        services.AddWeComAccessToken("hr", configuration.GetSection("WeCom:hr"));
        using var sp = services.BuildServiceProvider();

        var options = sp.GetRequiredService<IOptionsMonitor<WeComOptions>>().Get("hr");

        options.CorpId.Should().Be("wwcorp");
        options.AgentId.Should().Be(1000002);
        options.BaseAddress.Should().Be(new Uri("http://127.0.0.1:1/"));
        options.HttpClientName.Should().Be("egress");
    }

    [Theory]
    [InlineData(-1, WeComErrorKind.Transient, true, false)]
    [InlineData(40001, WeComErrorKind.Configuration, false, true)]
    [InlineData(40013, WeComErrorKind.Configuration, false, true)]
    [InlineData(60020, WeComErrorKind.Configuration, false, true)]
    [InlineData(40014, WeComErrorKind.InvalidToken, true, false)]
    [InlineData(42001, WeComErrorKind.InvalidToken, true, false)]
    [InlineData(41001, WeComErrorKind.MissingToken, false, false)]
    [InlineData(301002, WeComErrorKind.TokenOfAnotherApp, false, true)]
    [InlineData(45009, WeComErrorKind.RateLimited, true, false)]
    [InlineData(45033, WeComErrorKind.RateLimited, true, false)]
    [InlineData(42012, WeComErrorKind.Other, true, false)]
    public async Task ErrorCodes_MapToTypedErrors(int code, WeComErrorKind kind, bool transient, bool configuration)
    {
        await using var h = await WeComHarness.StartAsync(start: false);
        h.Emulator.InjectFault(WeComFault.Error(code, "injected"));
        var source = h.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>(WeComHarness.Name);

        var fetch = async () => await source.GetTokenAsync(CancellationToken.None);

        var error = (await fetch.Should().ThrowAsync<WeComApiException>()).Which;
        error.ErrorCode.Should().Be(code);
        error.Kind.Should().Be(kind);
        error.IsTransient.Should().Be(transient);
        error.IsConfigurationError.Should().Be(configuration);
        error.Message.Should().Contain($"WeCom error {code}").And.Contain(WeComHarness.CorpId).And.NotContain(WeComHarness.HrSecret);
        ((IRefreshRetryAdvice)error).RetryAfter.Should().Be(code switch
        {
            45009 => TimeSpan.FromMinutes(1),
            45033 => TimeSpan.FromSeconds(1),
            _ => (TimeSpan?)null,
        });
    }

    [Fact]
    public async Task RealEmulatorAnswers_BadSecretUntrustedIpAndRateLimit_AreTyped()
    {
        await using var h = await WeComHarness.StartAsync(start: false, emulatorOptions: o => o.GetTokenMinuteLimit = 2);
        var source = h.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>(WeComHarness.Name);
        await source.GetTokenAsync(CancellationToken.None);
        await source.GetTokenAsync(CancellationToken.None);

        var limited = async () => await source.GetTokenAsync(CancellationToken.None);
        (await limited.Should().ThrowAsync<WeComApiException>()).Which.ErrorCode.Should().Be(45009);

        await using var other = await WeComHarness.StartAsync(start: false, emulatorOptions: o => o.TrustedIps = ["10.0.0.1"]);
        var untrusted = async () => await other.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>(WeComHarness.Name).GetTokenAsync(CancellationToken.None);
        var error = (await untrusted.Should().ThrowAsync<WeComApiException>()).Which;
        error.ErrorCode.Should().Be(60020);
        error.Message.Should().Contain("trusted IP");
    }

    [Fact]
    public async Task WrongSecret_Is40001ConfigurationError()
    {
        var time = WeComHarness.NewClock();
        await using var emulator = await WeComHarness.StartEmulatorAsync(time);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddWeComAccessToken("x", o =>
        {
            o.CorpId = WeComHarness.CorpId;
            o.CorpSecret = "not-the-secret-0123456789";
            o.BaseAddress = emulator.BaseAddress;
        });
        await using var sp = services.BuildServiceProvider();

        var fetch = async () => await sp.GetRequiredKeyedService<WeComAccessTokenSource>("x").GetTokenAsync(CancellationToken.None);

        var error = (await fetch.Should().ThrowAsync<WeComApiException>()).Which;
        error.ErrorCode.Should().Be(40001);
        error.Message.Should().Contain("refused the secret").And.NotContain("not-the-secret-0123456789");
    }

    [Fact]
    public async Task ErrmsgEchoingTheSecret_IsRedacted()
    {
        await using var h = await WeComHarness.StartAsync(start: false);
        h.Emulator.InjectFault(WeComFault.Error(40001, $"invalid credential: corpsecret={Uri.EscapeDataString(WeComHarness.HrSecret)} ({WeComHarness.HrSecret})"));
        var source = h.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>(WeComHarness.Name);

        var fetch = async () => await source.GetTokenAsync(CancellationToken.None);

        var error = (await fetch.Should().ThrowAsync<WeComApiException>()).Which;
        error.ErrorMessage.Should().NotContain(WeComHarness.HrSecret).And.Contain("***");
        error.ToString().Should().NotContain(WeComHarness.HrSecret);
    }

    public static TheoryData<string> BadAnswers() => ["html", "malformed", "http502", "notoken", "reset"];

    [Theory]
    [MemberData(nameof(BadAnswers))]
    public async Task UnexpectedAnswers_AreTypedAndTransient(string answer)
    {
        await using var h = await WeComHarness.StartAsync(start: false);
        h.Emulator.InjectFault(answer switch
        {
            "html" => WeComFault.HtmlPage(),
            "malformed" => WeComFault.MalformedJson(),
            "http502" => WeComFault.HttpStatus(502),
            "notoken" => WeComFault.Body("{\"errcode\":0,\"errmsg\":\"ok\",\"expires_in\":7200}"),
            _ => WeComFault.ConnectionReset(),
        });
        var source = h.Host.Services.GetRequiredKeyedService<WeComAccessTokenSource>(WeComHarness.Name);

        var fetch = async () => await source.GetTokenAsync(CancellationToken.None);

        var error = (await fetch.Should().ThrowAsync<WeComApiException>()).Which;
        error.IsTransient.Should().BeTrue();
        error.Kind.Should().Be(answer switch
        {
            "http502" or "reset" => WeComErrorKind.Transient,
            _ => WeComErrorKind.InvalidResponse,
        });
        if (answer == "html")
        {
            error.Message.Should().Contain("HTML");
        }

        if (answer == "http502")
        {
            error.StatusCode.Should().Be(HttpStatusCode.BadGateway);
        }
    }

    [Fact]
    public async Task EarlyInvalidation_ReportedToken_IsReplacedOnce()
    {
        await using var h = await WeComHarness.StartAsync();
        var first = await h.Cache.GetAsync();
        h.Emulator.InvalidateTokens(WeComHarness.CorpId, WeComHarness.HrSecret).Should().Be(1);
        h.Emulator.ValidateAccessToken(first.Value).Should().Be(40014);

        var replacements = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => h.Cache.InvalidateAsync(first)));

        replacements.Select(t => t.Value).Distinct().Should().ContainSingle().Which.Should().NotBe(first.Value);
        h.Emulator.ValidateAccessToken(replacements[0].Value).Should().Be(0);
        h.Emulator.GetTokenCalls.Should().Be(2);
    }

    [Fact]
    public async Task Logs_NeverCarryTheSecretATokenOrATicket()
    {
        await using var h = await WeComHarness.StartAsync(services: (s, e) =>
        {
            s.AddWeComJsApiTicket(WeComHarness.Name);
            s.AddHttpClient("wecom", c => c.BaseAddress = e.BaseAddress).AddWeComAccessTokenHandler(WeComHarness.Name);
        });
        var client = h.Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("wecom");
        await h.Host.Services.GetRequiredKeyedService<IRefreshingCache<WeComJsApiTicket>>(WeComHarness.Name).GetAsync();
        h.Emulator.InvalidateTokens(WeComHarness.CorpId, WeComHarness.HrSecret);
        using (await client.GetAsync($"cgi-bin/agent/get?agentid={WeComHarness.HrAgentId}"))
        {
        }

        h.Emulator.InjectFault(WeComFault.Error(40001, "invalid credential " + WeComHarness.HrSecret), 3);
        await h.AdvanceAsync(TimeSpan.FromHours(3));

        var text = string.Join("\n", h.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception));
        text.Should().Contain("WeCom");
        text.Should().NotContain(WeComHarness.HrSecret);
        foreach (var secret in h.Emulator.GetIssuedSecrets())
        {
            text.Should().NotContain(secret);
        }
    }
}
