using System.Net;
using BackgroundCache.Feishu.Internal;
using BackgroundCache.Feishu.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace BackgroundCache.Feishu.Tests;

public sealed class FeishuTokenTests(ITestOutputHelper output)
{
    // A 2-hour token that Feishu renews only in its last 30 minutes. A lead inside the window: one fetch per token life
    // (5 min: 24 h / 115 min → 13; 20 min: 24 h / 100 min → 15). A lead longer than the window waits for it
    // (45 min: 24 h / 90.5 min → 16), instead of fetching the same token again and again.
    [Theory]
    [InlineData(5, 13)]
    [InlineData(20, 15)]
    [InlineData(45, 16)]
    public async Task SimulatedDay_ThirtyMinuteRule_CallsAtTheIdealAndNoExpiredRead(int leadMinutes, int expectedCalls)
    {
        await using var h = await FeishuHarness.StartAsync(o =>
        {
            o.RefreshBeforeExpiry = TimeSpan.FromMinutes(leadMinutes);
            o.Jitter = TimeSpan.Zero;
        });
        var start = h.Time.GetUtcNow();
        var expired = 0;
        var distinct = new HashSet<string>();
        while (h.Time.GetUtcNow() < start.AddDays(1))
        {
            h.Cache.TryGetValue(out var token).Should().BeTrue();
            distinct.Add(token!.Value);
            if (!h.Emulator.IsValid(token.Value))
            {
                expired++;
            }

            await h.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        output.WriteLine($"lead {leadMinutes} min: {h.Emulator.InternalTokenCalls} calls, {h.Emulator.TokensIssued} tokens issued, {distinct.Count} seen");
        h.Emulator.InternalTokenCalls.Should().Be(expectedCalls);
        h.Emulator.TokensIssued.Should().Be(expectedCalls, "every call returned a new token: none was wasted on the same token");
        expired.Should().Be(0);
        h.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task Source_DeclaresTheThirtyMinuteWindow_AndTheStatusSaysItWaits()
    {
        await using var h = await FeishuHarness.StartAsync(o => o.RefreshBeforeExpiry = TimeSpan.FromMinutes(45));

        h.Cache.Status.WaitingForRenewalWindow.Should().BeTrue();
        (h.Cache.Status.ExpiresAt!.Value - h.Cache.Status.NextRefreshAt!.Value).Should().BeLessThanOrEqualTo(TimeSpan.FromMinutes(30));
    }

    [Fact]
    public async Task AppAccessTokenInternal_FetchedAndValid()
    {
        await using var h = await FeishuHarness.StartAsync(appToken: true);

        h.Cache.TryGetValue(out var token).Should().BeTrue();
        token!.Value.Should().StartWith("a-");
        h.Emulator.IsValid(token.Value).Should().BeTrue();
    }

    public static TheoryData<string, FeishuErrorKind, bool, int?> Faults => new()
    {
        { "99991663", FeishuErrorKind.InvalidToken, true, null },
        { "99991664", FeishuErrorKind.InvalidToken, true, null },
        { "99991671", FeishuErrorKind.InvalidToken, true, null },
        { "99991677", FeishuErrorKind.InvalidToken, true, null },
        { "10013", FeishuErrorKind.InvalidToken, true, null },
        { "99991661", FeishuErrorKind.InvalidRequest, false, null },
        { "10003", FeishuErrorKind.InvalidCredentials, false, null },
        { "10014", FeishuErrorKind.InvalidCredentials, false, null },
        { "10012", FeishuErrorKind.InvalidTicket, true, null },
        { "99991401", FeishuErrorKind.IpNotAllowed, false, null },
        { "12345", FeishuErrorKind.Other, true, null },
        { "ratelimit429", FeishuErrorKind.RateLimited, true, 52 },
        { "ratelimit400", FeishuErrorKind.RateLimited, true, 7 },
        { "html", FeishuErrorKind.Unavailable, true, null },
        { "malformed", FeishuErrorKind.InvalidResponse, true, null },
        { "notoken", FeishuErrorKind.InvalidResponse, true, null },
        { "500", FeishuErrorKind.Unavailable, true, null },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Fetch_EachDocumentedError_MappedToItsKindAndAdvice(string fault, FeishuErrorKind kind, bool transient, int? retryAfterSeconds)
    {
        await using var env = await SourceEnvironment.StartAsync();
        env.Emulator.InjectFault(fault switch
        {
            "ratelimit429" => FeishuFault.RateLimited(52),
            "ratelimit400" => FeishuFault.RateLimited(7, 400),
            "html" => FeishuFault.HtmlPage(),
            "malformed" => FeishuFault.MalformedJson(),
            "notoken" => FeishuFault.MissingToken(),
            "500" => FeishuFault.Status(500),
            _ => FeishuFault.Error(int.Parse(fault, System.Globalization.CultureInfo.InvariantCulture)),
        });

        var error = await FluentActions.Awaiting(() => env.Source.GetTokenAsync(CancellationToken.None).AsTask()).Should().ThrowAsync<FeishuApiException>();

        error.Which.Kind.Should().Be(kind);
        error.Which.IsTransient.Should().Be(transient);
        if (retryAfterSeconds is { } seconds)
        {
            error.Which.RetryAfter.Should().Be(TimeSpan.FromSeconds(seconds));
            error.Which.Code.Should().Be(99991400);
        }

        error.Which.Message.Should().NotContain(FeishuHarness.AppSecret);
    }

    [Fact]
    public async Task Fetch_WrongSecret_Answers10014_PermanentAndTheSecretNeverInTheMessage()
    {
        await using var env = await SourceEnvironment.StartAsync(secret: "wrong-" + FeishuHarness.AppSecret);

        var error = await FluentActions.Awaiting(() => env.Source.GetTokenAsync(CancellationToken.None).AsTask()).Should().ThrowAsync<FeishuApiException>();

        error.Which.Code.Should().Be(10014);
        error.Which.Kind.Should().Be(FeishuErrorKind.InvalidCredentials);
        error.Which.IsTransient.Should().BeFalse();
        error.Which.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        error.Which.Message.Should().NotContain(FeishuHarness.AppSecret);
    }

    [Fact]
    public async Task Fetch_MsgEchoingTheSecret_SecretRedacted()
    {
        await using var env = await SourceEnvironment.StartAsync();
        env.Emulator.InjectFault(FeishuFault.Error(10014, "app secret invalid: " + FeishuHarness.AppSecret));

        var error = await FluentActions.Awaiting(() => env.Source.GetTokenAsync(CancellationToken.None).AsTask()).Should().ThrowAsync<FeishuApiException>();

        error.Which.Message.Should().NotContain(FeishuHarness.AppSecret).And.Contain("***");
        error.Which.ErrorMessage.Should().NotContain(FeishuHarness.AppSecret);
    }

    [Fact]
    public async Task Logs_FailedAndSuccessfulFetches_NeverHoldTheSecretOrTheToken()
    {
        await using var h = await FeishuHarness.StartAsync();
        h.Emulator.InjectFault(FeishuFault.Error(10014, "app secret invalid: " + FeishuHarness.AppSecret));
        var refresh = () => h.Cache.RefreshAsync(CancellationToken.None);
        await refresh.Should().ThrowAsync<FeishuApiException>();
        h.Cache.TryGetValue(out var token).Should().BeTrue();

        var records = h.Logs.GetSnapshot();

        records.Should().NotBeEmpty();
        foreach (var record in records)
        {
            var text = record.Message + " " + record.Exception;
            text.Should().NotContain(FeishuHarness.AppSecret);
            text.Should().NotContain(token!.Value);
        }
    }

    [Fact]
    public async Task RateLimitedRefresh_WaitsAtLeastTheResetTheHeaderSays()
    {
        await using var h = await FeishuHarness.StartAsync();
        h.Emulator.InjectFault(FeishuFault.RateLimited(90));

        var refresh = () => h.Cache.RefreshAsync(CancellationToken.None);

        await refresh.Should().ThrowAsync<FeishuApiException>();
        (h.Cache.Status.NextRefreshAt!.Value - h.Time.GetUtcNow()).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task EmulatorRateLimit_SecondCallInTheMinute_99991400WithTheResetOfTheMinute()
    {
        var time = FeishuHarness.NewClock();
        var options = new FeishuEmulatorOptions { TimeProvider = time, TokenCallsPerMinute = 1 };
        options.Apps[FeishuHarness.AppId] = FeishuHarness.AppSecret;
        var emulator = await FeishuEmulator.StartAsync(options);
        await using var h = await FeishuHarness.StartAsync(emulator: emulator, time: time);
        time.Advance(TimeSpan.FromSeconds(20));

        var refresh = () => h.Cache.RefreshAsync(CancellationToken.None);

        var error = (await refresh.Should().ThrowAsync<FeishuApiException>()).Which;
        error.Kind.Should().Be(FeishuErrorKind.RateLimited);
        error.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        error.RetryAfter.Should().Be(TimeSpan.FromSeconds(40));
        h.Emulator.RateLimitedCalls.Should().Be(1);
    }

    [Fact]
    public void Options_Defaults_FeishuHostAndLarkConstant()
    {
        new FeishuOptions().BaseAddress.Should().Be(new Uri("https://open.feishu.cn/"));
        FeishuOptions.LarkBaseAddress.Should().Be(new Uri("https://open.larksuite.com/"));
        new FeishuOptions().HttpClientName.Should().Be(FeishuOptions.DefaultHttpClientName);
    }

    [Fact]
    public void Options_MissingAppIdAndSecret_FailStartNamingTheSettings()
    {
        var services = new ServiceCollection();
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Feishu:ops:BaseAddress"] = "https://open.larksuite.com/" }).Build().GetSection("Feishu:ops");
        services.AddFeishuTenantAccessToken("ops", section);
        using var sp = services.BuildServiceProvider();

        var read = () => sp.GetRequiredService<IOptionsMonitor<FeishuOptions>>().Get("ops");

        var error = read.Should().Throw<OptionsValidationException>().Which;
        error.Failures.Should().Contain(f => f.Contains("Feishu:ops:AppId is required", StringComparison.Ordinal));
        error.Failures.Should().Contain(f => f.Contains("Feishu:ops:AppSecret is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_BoundFromSection_LarkAddressAndClientName()
    {
        var services = new ServiceCollection();
        var section = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AppId"] = "cli_x",
            ["AppSecret"] = "s",
            ["BaseAddress"] = "https://open.larksuite.com/",
            ["HttpClientName"] = "egress",
        }).Build();
        services.AddFeishuTenantAccessToken("lark", section);
        using var sp = services.BuildServiceProvider();

        var options = sp.GetRequiredService<IOptionsMonitor<FeishuOptions>>().Get("lark");

        options.BaseAddress.Should().Be(FeishuOptions.LarkBaseAddress);
        options.HttpClientName.Should().Be("egress");
    }

    /// <summary>A token source on its own (no refresher), against an emulator on the real clock.</summary>
    private sealed class SourceEnvironment : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        private SourceEnvironment(FeishuEmulator emulator, ServiceProvider services, FeishuInternalTokenSource source)
        {
            Emulator = emulator;
            _services = services;
            Source = source;
        }

        public FeishuEmulator Emulator { get; }

        public FeishuInternalTokenSource Source { get; }

        public static async Task<SourceEnvironment> StartAsync(string secret = FeishuHarness.AppSecret)
        {
            var options = new FeishuEmulatorOptions();
            options.Apps[FeishuHarness.AppId] = FeishuHarness.AppSecret;
            var emulator = await FeishuEmulator.StartAsync(options);
            var services = new ServiceCollection();
            services.AddHttpClient();
            services.Configure<FeishuOptions>("t", o =>
            {
                o.AppId = FeishuHarness.AppId;
                o.AppSecret = secret;
                o.BaseAddress = emulator.BaseAddress;
            });
            var sp = services.BuildServiceProvider();
            var source = new FeishuInternalTokenSource("t", false, sp.GetRequiredService<IHttpClientFactory>(), sp.GetRequiredService<IOptionsMonitor<FeishuOptions>>(), TimeProvider.System, NullLogger.Instance);
            return new SourceEnvironment(emulator, sp, source);
        }

        public async ValueTask DisposeAsync()
        {
            await _services.DisposeAsync();
            await Emulator.DisposeAsync();
        }
    }
}
