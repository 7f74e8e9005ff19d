using System.Net;
using System.Net.Http.Json;
using BackgroundCache.Douyin.Testing;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Douyin.Tests;

public sealed class DouyinClientTokenTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SimulatedDay_EachEndpoint_ThirteenCallsAndNoExpiredRead(bool stable)
    {
        var (started, host) = await DouyinHarness.StartAsync(stable);
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var (reads, invalid) = await h.ReadForADayAsync(emulator.IsValid);

        emulator.TokenCalls.Should().BeInRange(12, 13, "one fetch per 2-hour life");
        emulator.TokensIssued.Should().Be(emulator.TokenCalls, "no fetch was wasted on a token already held");
        reads.Should().Be(1440);
        invalid.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task Renewal_DeclaredPerEndpoint()
    {
        foreach (var (stable, kind) in new[] { (false, TokenRenewalKind.ReplacesOnFetch), (true, TokenRenewalKind.SameUntilWindow) })
        {
            var (started, host) = await DouyinHarness.StartAsync(stable);
            await using var emulator = started;
            await using var h = host;
            await h.WaitIdleAsync();

            h.Host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(DouyinHarness.Name).Should().BeAssignableTo<ITokenRenewalRule>()
                .Which.Renewal.Kind.Should().Be(kind);
        }
    }

    [Fact]
    public async Task Emulator_ClientToken_PreviousLivesFiveMinutesAndOnlyTheLatestTwoLive()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        using var http = new HttpClient { BaseAddress = emulator.BaseAddress };
        async Task<string> FetchAsync()
        {
            var answer = await http.PostAsJsonAsync("oauth/client_token/", new { client_key = DouyinHarness.ClientKey, client_secret = DouyinHarness.ClientSecret, grant_type = "client_credential" });
            using var json = await System.Text.Json.JsonDocument.ParseAsync(await answer.Content.ReadAsStreamAsync());
            return json.RootElement.GetProperty("data").GetProperty("access_token").GetString()!;
        }

        var first = await FetchAsync();
        var second = await FetchAsync();
        emulator.IsValid(first).Should().BeTrue("the previous token keeps working for 5 minutes");
        var third = await FetchAsync();
        emulator.Validate(first).Should().Be(28001003, "only the latest two tokens are kept");
        emulator.IsValid(second).Should().BeTrue();
        time.Advance(TimeSpan.FromMinutes(5));
        emulator.Validate(second).Should().Be(28001008, "the overlap ended");
        emulator.IsValid(third).Should().BeTrue();
    }

    [Theory]
    [InlineData(false, "wrong-secret-that-must-not-be-printed", 10013)]
    [InlineData(true, "wrong-secret-that-must-not-be-printed", 10013)]
    public async Task Fetch_WrongSecret_InvalidCredentialsWithoutTheSecret(bool stable, string wrong, long code)
    {
        var (started, host) = await DouyinHarness.StartAsync(stable, secret: wrong);
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var error = h.Cache.Status.LastError.Should().BeOfType<DouyinApiException>().Subject;
        error.Kind.Should().Be(DouyinErrorKind.InvalidCredentials);
        error.ErrorCode.Should().Be(code);
        error.IsTransient.Should().BeFalse();
        error.ToString().Should().NotContain(wrong);
        h.Logs.GetSnapshot().Select(r => r.Message).Should().NotContain(m => m.Contains(wrong, StringComparison.Ordinal));
    }

    public static TheoryData<string, DouyinErrorKind, long, double?> Faults => new()
    {
        { nameof(DouyinFault.SystemBusy), DouyinErrorKind.Transient, 2100004, null },
        { nameof(DouyinFault.RateLimited), DouyinErrorKind.RateLimited, 10020, 300 },
        { nameof(DouyinFault.ParameterError), DouyinErrorKind.InvalidRequest, 10002, null },
        { nameof(DouyinFault.GatewayError), DouyinErrorKind.Transient, 0, null },
        { nameof(DouyinFault.NotJson), DouyinErrorKind.InvalidResponse, 0, null },
        { "10003", DouyinErrorKind.InvalidCredentials, 10003, null },
        { "2190008", DouyinErrorKind.InvalidToken, 2190008, null },
        { "28001008", DouyinErrorKind.InvalidToken, 28001008, null },
        { "12345", DouyinErrorKind.Other, 12345, null },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Fetch_ErrorAnswer_MappedToKindAndRetryAfter(string fault, DouyinErrorKind kind, long code, double? retryAfterSeconds)
    {
        var injected = typeof(DouyinFault).GetProperty(fault)?.GetValue(null) as DouyinFault ?? DouyinFault.Error(long.Parse(fault, System.Globalization.CultureInfo.InvariantCulture));
        var (started, host) = await DouyinHarness.StartAsync(beforeStart: e => e.InjectFault(injected));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var error = h.Cache.Status.LastError.Should().BeOfType<DouyinApiException>().Subject;
        error.Kind.Should().Be(kind);
        error.ErrorCode.Should().Be(code);
        error.RetryAfter.Should().Be(retryAfterSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
    }

    [Fact]
    public async Task Fetch_UnknownClientKey_InvalidCredentials10003()
    {
        var (started, host) = await DouyinHarness.StartAsync(beforeStart: e => e.RevokeTokens("none"), services: s => s.Configure<DouyinOptions>(DouyinHarness.Name, o => o.ClientKey = "awunknown"));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();

        var error = h.Cache.Status.LastError.Should().BeOfType<DouyinApiException>().Subject;
        error.ErrorCode.Should().Be(10003);
        error.Kind.Should().Be(DouyinErrorKind.InvalidCredentials);
    }

    [Fact]
    public async Task Emulator_MoreThan500CallsIn5Minutes_10020UntilTheWindowPasses()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time, o => o.RateLimit = 500);
        using var http = new HttpClient { BaseAddress = emulator.BaseAddress };
        var body = new { client_key = DouyinHarness.ClientKey, client_secret = DouyinHarness.ClientSecret, grant_type = "client_credential" };
        for (var i = 0; i < 500; i++)
        {
            (await (await http.PostAsJsonAsync("oauth/stable_client_token/", body)).Content.ReadAsStringAsync()).Should().Contain("\"error_code\":0");
        }

        var limited = await (await http.PostAsJsonAsync("oauth/client_token/", body)).Content.ReadAsStringAsync();
        time.Advance(TimeSpan.FromMinutes(5));
        var after = await (await http.PostAsJsonAsync("oauth/client_token/", body)).Content.ReadAsStringAsync();

        limited.Should().Contain("10020");
        after.Should().Contain("\"error_code\":0");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Handler_TokenRevoked_ReportsItAndRetriesOnceWithTheNewToken(bool stable)
    {
        var (started, host) = await DouyinHarness.StartAsync(stable, services: s => s.AddHttpClient("api").AddDouyinClientTokenHandler(DouyinHarness.Name));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();
        var http = h.CreateClient("api", emulator.BaseAddress);
        (await http.GetStringAsync("dy_open_api/probe")).Should().Contain("\"err_no\":0");

        emulator.RevokeTokens(DouyinHarness.ClientKey);
        var answer = await http.GetStringAsync("dy_open_api/probe");

        answer.Should().Contain("\"err_no\":0");
        emulator.RejectedApiCalls.Should().Be(1);
        emulator.ApiCalls.Should().Be(3);
        emulator.TokensIssued.Should().Be(2);
    }

    [Fact]
    public async Task Handler_ReplacementFails_ReturnsTheRefusalWithoutASecondCall()
    {
        var (started, host) = await DouyinHarness.StartAsync(services: s => s.AddHttpClient("api").AddDouyinClientTokenHandler(DouyinHarness.Name));
        await using var emulator = started;
        await using var h = host;
        await h.WaitIdleAsync();
        var http = h.CreateClient("api", emulator.BaseAddress);
        emulator.RevokeTokens(DouyinHarness.ClientKey);
        emulator.InjectFault(DouyinFault.SystemBusy, 10);

        var answer = await http.GetStringAsync("dy_open_api/probe");

        answer.Should().Contain("28001003");
        emulator.ApiCalls.Should().Be(1);
    }

    [Fact]
    public async Task Options_BoundFromSection_StableTokenFetched()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Douyin:shop:ClientKey"] = DouyinHarness.ClientKey,
            ["Douyin:shop:ClientSecret"] = DouyinHarness.ClientSecret,
            ["Douyin:shop:Stable"] = "true",
            ["Douyin:shop:BaseAddress"] = emulator.BaseAddress.ToString(),
        }).Build();
        await using var h = await PlatformHost.StartAsync(time, "shop", s => s.AddDouyinClientToken("shop", configuration.GetSection("Douyin:shop")));

        var token = await h.Cache.GetAsync();

        emulator.IsValid(token.Value).Should().BeTrue();
        emulator.StableTokenCalls.Should().Be(1);
        var cacheOptions = h.Host.Services.GetRequiredService<IOptionsMonitor<RefreshingCacheOptions>>().Get("shop");
        cacheOptions.RefreshBeforeExpiry.Should().Be(TimeSpan.Zero);
        cacheOptions.Jitter.Should().Be(TimeSpan.Zero);
    }

    [Fact]
    public async Task Options_Missing_HostStartFailsNamingEachSetting()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddDouyinClientToken("shop", o => o.HttpClientName = " ");
        using var host = builder.Build();

        var start = () => host.StartAsync();

        var error = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        error.Failures.Should().Contain(f => f.Contains("Douyin:shop:ClientKey is required", StringComparison.Ordinal))
            .And.Contain(f => f.Contains("Douyin:shop:ClientSecret is required", StringComparison.Ordinal))
            .And.Contain(f => f.Contains("Douyin:shop:HttpClientName", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PerAppTokens_TwoApps_EachItsOwnToken()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var emulator = await DouyinHarness.StartEmulatorAsync(time);
        emulator.AddApp("awlive000000000", "live-secret");
        await using var h = await PlatformHost.StartAsync(time, "shop", s =>
        {
            s.AddDouyinClientToken("shop", o => DouyinHarness.Configure(o, emulator, stable: false));
            s.AddDouyinClientToken("live", o =>
            {
                DouyinHarness.Configure(o, emulator, stable: true, "live-secret");
                o.ClientKey = "awlive000000000";
            });
        });

        var shop = await h.Get("shop").GetAsync();
        var live = await h.Get("live").GetAsync();

        shop.Value.Should().NotBe(live.Value);
        emulator.IsValid(shop.Value).Should().BeTrue();
        emulator.IsValid(live.Value).Should().BeTrue();
    }
}
