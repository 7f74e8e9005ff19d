using System.Net;
using BackgroundCache.DingTalk.Testing;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.DingTalk.Tests;

public sealed class DingTalkAccessTokenTests
{
    [Theory]
    [InlineData(DingTalkApi.New)]
    [InlineData(DingTalkApi.Legacy)]
    public async Task SimulatedDay_ExtendedOnFetch_ThirteenCallsOneTokenAndNoExpiredRead(DingTalkApi api)
    {
        var (started, host) = await DingTalkHarness.StartAsync(api);
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var (reads, invalid) = await h.ReadForADayAsync(emulator.IsValid);

        emulator.TokenCalls.Should().BeInRange(12, 13, "one fetch per 2-hour life");
        emulator.TokensIssued.Should().Be(1, "each fetch within validity extends the same token");
        reads.Should().Be(1440);
        invalid.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task Fetch_WithinValidity_SameTokenAndExpiryPushedOut()
    {
        var (started, host) = await DingTalkHarness.StartAsync();
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();
        h.Cache.TryGetValue(out var first).Should().BeTrue();
        h.Time.Advance(TimeSpan.FromMinutes(30));

        var token = await h.Cache.RefreshAsync();

        token.Value.Should().Be(first!.Value);
        token.ExpiresAt.Should().BeAfter(first.ExpiresAt);
        emulator.TokensIssued.Should().Be(1);
        token.ExpiresAt.Should().Be(h.Time.GetUtcNow().AddSeconds(7200));
        emulator.GetExpiry(DingTalkHarness.AppKey).Should().Be(h.Time.GetUtcNow().AddSeconds(7200));
        h.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(DingTalkHarness.Name).Should().BeAssignableTo<ITokenRenewalRule>()
            .Which.Renewal.Should().Be(TokenRenewal.ExtendedOnFetch);
    }

    [Theory]
    [InlineData(DingTalkApi.New)]
    [InlineData(DingTalkApi.Legacy)]
    public async Task Fetch_WrongSecret_InvalidCredentialsWithoutTheSecret(DingTalkApi api)
    {
        const string wrong = "wrong-secret-that-must-not-be-printed";
        var (started, host) = await DingTalkHarness.StartAsync(api, secret: wrong);
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var error = h.Cache.Status.LastError.Should().BeOfType<DingTalkApiException>().Subject;
        error.Kind.Should().Be(DingTalkErrorKind.InvalidCredentials);
        error.ErrorCode.Should().Be(api == DingTalkApi.New ? "invalidClientSecret" : "40089");
        error.IsTransient.Should().BeFalse();
        error.ToString().Should().NotContain(wrong).And.NotContain(DingTalkHarness.AppSecret);
        h.Logs.GetSnapshot().Select(r => r.Message).Should().NotContain(m => m.Contains(wrong, StringComparison.Ordinal));
    }

    public static TheoryData<string, DingTalkApi, DingTalkErrorKind, string, double?> Faults => new()
    {
        { nameof(DingTalkFault.SystemBusy), DingTalkApi.Legacy, DingTalkErrorKind.Transient, "-1", null },
        { nameof(DingTalkFault.SystemBusy), DingTalkApi.New, DingTalkErrorKind.Transient, "ServiceUnavailable", null },
        { nameof(DingTalkFault.RateLimited), DingTalkApi.Legacy, DingTalkErrorKind.RateLimited, "90019", 1 },
        { nameof(DingTalkFault.RateLimited), DingTalkApi.New, DingTalkErrorKind.RateLimited, "Throttling.Api", 1 },
        { nameof(DingTalkFault.FlowControl), DingTalkApi.Legacy, DingTalkErrorKind.RateLimited, "90002", 1 },
        { nameof(DingTalkFault.IpNotAllowed), DingTalkApi.Legacy, DingTalkErrorKind.IpNotAllowed, "60020", null },
        { nameof(DingTalkFault.IpNotAllowed), DingTalkApi.New, DingTalkErrorKind.IpNotAllowed, "Forbidden.AccessDenied.IpNotInWhiteList", null },
        { nameof(DingTalkFault.PermissionDenied), DingTalkApi.Legacy, DingTalkErrorKind.PermissionDenied, "88", null },
        { nameof(DingTalkFault.PermissionDenied), DingTalkApi.New, DingTalkErrorKind.PermissionDenied, "Forbidden.AccessDenied.AccessTokenPermissionDenied", null },
        { nameof(DingTalkFault.IpBanPage), DingTalkApi.Legacy, DingTalkErrorKind.RateLimited, "1111", 300 },
        { nameof(DingTalkFault.IpBanPage), DingTalkApi.New, DingTalkErrorKind.RateLimited, "1111", 300 },
        { nameof(DingTalkFault.GatewayError), DingTalkApi.New, DingTalkErrorKind.Transient, "", null },
        { nameof(DingTalkFault.NotJson), DingTalkApi.Legacy, DingTalkErrorKind.InvalidResponse, "", null },
        { "41020", DingTalkApi.Legacy, DingTalkErrorKind.InvalidCredentials, "41020", null },
        { "40014", DingTalkApi.Legacy, DingTalkErrorKind.InvalidToken, "40014", null },
        { "40001", DingTalkApi.Legacy, DingTalkErrorKind.InvalidToken, "40001", null },
        { "42001", DingTalkApi.Legacy, DingTalkErrorKind.InvalidToken, "42001", null },
        { "invalidClientId", DingTalkApi.New, DingTalkErrorKind.InvalidCredentials, "invalidClientId", null },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Fetch_ErrorAnswer_MappedToKindAndRetryAfter(string fault, DingTalkApi api, DingTalkErrorKind kind, string code, double? retryAfterSeconds)
    {
        var injected = typeof(DingTalkFault).GetProperty(fault)?.GetValue(null) as DingTalkFault
            ?? DingTalkFault.Error(int.TryParse(fault, out var legacy) ? legacy : 0, fault);
        var (started, host) = await DingTalkHarness.StartAsync(api, e => e.InjectFault(injected));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var error = h.Cache.Status.LastError.Should().BeOfType<DingTalkApiException>().Subject;
        error.Kind.Should().Be(kind);
        error.ErrorCode.Should().Be(code);
        error.RetryAfter.Should().Be(retryAfterSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
        error.Message.Should().NotContain(DingTalkHarness.AppSecret);
    }

    [Fact]
    public async Task Emulator_TooManyCallsFromOneIp_BanPageForFiveMinutesThenServedAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new DingTalkEmulatorOptions { TimeProvider = time, IpRateLimit = 3 };
        options.Apps[DingTalkHarness.AppKey] = DingTalkHarness.AppSecret;
        await using var emulator = await DingTalkEmulator.StartAsync(options);
        using var http = new HttpClient { BaseAddress = emulator.BaseAddress };
        var url = $"gettoken?appkey={DingTalkHarness.AppKey}&appsecret={DingTalkHarness.AppSecret}";

        for (var i = 0; i < 3; i++)
        {
            (await http.GetAsync(url)).StatusCode.Should().Be(HttpStatusCode.OK);
        }

        var banned = await http.GetAsync(url);
        time.Advance(TimeSpan.FromMinutes(5));
        var after = await http.GetAsync(url);

        banned.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await banned.Content.ReadAsStringAsync()).Should().Contain("1111");
        after.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("v1.0/contact/probe")]
    [InlineData("user/probe?dept_id=1")]
    public async Task Handler_TokenRevoked_ReportsItAndRetriesOnceWithTheNewToken(string path)
    {
        var (started, host) = await DingTalkHarness.StartAsync(services: s => s.AddHttpClient("api").AddDingTalkAccessTokenHandler(DingTalkHarness.Name));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();
        var http = h.CreateClient("api", emulator.BaseAddress);
        (await http.GetAsync(path)).StatusCode.Should().Be(HttpStatusCode.OK);
        h.Cache.TryGetValue(out var before).Should().BeTrue();

        emulator.RevokeToken(DingTalkHarness.AppKey);
        var response = await http.GetAsync(path);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Contain("ok", "the caller reads the whole answer after the handler peeked at it");
        emulator.RejectedApiCalls.Should().Be(1);
        emulator.ApiCalls.Should().Be(3);
        emulator.TokensIssued.Should().Be(2);
        h.Cache.TryGetValue(out var after).Should().BeTrue();
        after!.Value.Should().NotBe(before!.Value);
    }

    [Fact]
    public async Task Handler_ReplacementFails_ReturnsTheRefusalWithoutASecondCall()
    {
        var (started, host) = await DingTalkHarness.StartAsync(services: s => s.AddHttpClient("api").AddDingTalkAccessTokenHandler(DingTalkHarness.Name));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();
        var http = h.CreateClient("api", emulator.BaseAddress);
        emulator.RevokeToken(DingTalkHarness.AppKey);
        emulator.InjectFault(DingTalkFault.SystemBusy, 10);

        var response = await http.GetAsync("v1.0/contact/probe");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await response.Content.ReadAsStringAsync()).Should().Contain("InvalidAuthentication");
        emulator.ApiCalls.Should().Be(1);
    }

    [Fact]
    public async Task Options_BoundFromSectionWithClientIdAlias_TokenFetched()
    {
        var time = PlatformHost.NewTime();
        await using var emulator = await DingTalkHarness.StartEmulatorAsync(time);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DingTalk:crm:ClientId"] = DingTalkHarness.AppKey,
            ["DingTalk:crm:AppSecret"] = DingTalkHarness.AppSecret,
            ["DingTalk:crm:Api"] = "Legacy",
            ["DingTalk:crm:LegacyBaseAddress"] = emulator.BaseAddress.ToString(),
        }).Build();
        await using var h = await PlatformHost.StartAsync(time, "crm", s => s.AddDingTalkAccessToken("crm", configuration.GetSection("DingTalk:crm")));

        var token = await h.Cache.GetAsync();

        emulator.IsValid(token.Value).Should().BeTrue();
        emulator.LegacyTokenCalls.Should().Be(1);
    }

    [Fact]
    public async Task Options_Missing_HostStartFailsNamingEachSetting()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddDingTalkAccessToken("crm", o => o.BaseAddress = new Uri("/relative", UriKind.Relative));
        using var host = builder.Build();

        var start = () => host.StartAsync();

        var error = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        error.Failures.Should().Contain(f => f.Contains("DingTalk:crm:AppKey is required", StringComparison.Ordinal))
            .And.Contain(f => f.Contains("DingTalk:crm:AppSecret is required", StringComparison.Ordinal))
            .And.Contain(f => f.Contains("DingTalk:crm:BaseAddress", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PerAppTokens_TwoApps_EachItsOwnTokenFromOneEmulator()
    {
        var time = PlatformHost.NewTime();
        await using var emulator = await DingTalkHarness.StartEmulatorAsync(time);
        emulator.AddApp("dinghr0000000000", "hr-secret");
        await using var h = await PlatformHost.StartAsync(time, "crm", s =>
        {
            s.AddDingTalkAccessToken("crm", o => DingTalkHarness.Configure(o, emulator, DingTalkApi.New));
            s.AddDingTalkAccessToken("hr", o =>
            {
                DingTalkHarness.Configure(o, emulator, DingTalkApi.Legacy, "hr-secret");
                o.AppKey = "dinghr0000000000";
            });
        });

        var crm = await h.Get("crm").GetAsync();
        var hr = await h.Get("hr").GetAsync();

        crm.Value.Should().NotBe(hr.Value);
        emulator.IsValid(crm.Value).Should().BeTrue();
        emulator.IsValid(hr.Value).Should().BeTrue();
        emulator.TokensIssued.Should().Be(2);
    }
}
