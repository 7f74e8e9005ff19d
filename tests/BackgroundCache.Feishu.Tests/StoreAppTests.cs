using System.Net;
using BackgroundCache.Feishu.Testing;
using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace BackgroundCache.Feishu.Tests;

public sealed class StoreAppTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Start_NoTicket_AsksForResend_ThePushBringsTheTicket_AppTokenFetchedAtOnce()
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.QuiesceAsync();

        // Nobody stored a ticket: the token came through resend → push → store → fetch.
        h.Emulator.ResendCalls.Should().BeInRange(1, 2);
        (h.Emulator.PushesSent - h.Emulator.PushFailures).Should().Be(1);
        h.StoreApp.AppAccessToken.TryGetValue(out var token).Should().BeTrue("the push fetched the app token at once");
        h.Emulator.IsValid(token!.Value).Should().BeTrue();
        h.Emulator.StoreAppTokenCalls.Should().Be(1, "attempts without a ticket fail before calling");
    }

    [Fact]
    public async Task NoTicket_FetchFailsTransiently_WithPushedTicketMissing_AndResendIsThrottled()
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.QuiesceAsync();
        var store = h.App.Services.GetRequiredService<IPushedTicketStore>();
        (await store.GetTicketAsync($"feishu:store:{StoreAppHarness.AppId}:app_ticket")).Should().NotBeNull();

        var resends = h.Emulator.ResendCalls;
        (await h.StoreApp.ResendTicketAsync()).Should().BeTrue();
        await h.QuiesceAsync();

        h.Emulator.ResendCalls.Should().Be(resends + 1);
        (h.Emulator.PushesSent - h.Emulator.PushFailures).Should().Be(2);
    }

    [Fact]
    public async Task TenantTokens_PerTenantKey_ValidAndDistinct_HandlerAttachesTheRequestsTenant()
    {
        await using var h = await StoreAppHarness.StartAsync(services: s => s.AddHttpClient("api").AddFeishuStoreAppTenantTokenHandler(StoreAppHarness.Name));
        await h.QuiesceAsync();

        var a = await h.StoreApp.Tenants.GetOrAdd("tenant-a").GetAsync(CancellationToken.None);
        var b = await h.StoreApp.Tenants.GetOrAdd("tenant-b").GetAsync(CancellationToken.None);
        var client = h.App.Services.GetRequiredService<IHttpClientFactory>().CreateClient("api");
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(h.Emulator.BaseAddress, "open-apis/contact/v3/users")).SetFeishuTenant("tenant-a");
        using var response = await client.SendAsync(request);

        a.Value.Should().NotBe(b.Value);
        h.Emulator.IsValid(a.Value).Should().BeTrue();
        h.Emulator.IsValid(b.Value).Should().BeTrue();
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        h.Emulator.RejectedApiCalls.Should().Be(0);
    }

    [Fact]
    public async Task AppTokenRejectedWhileFetchingTenantToken_ReplacedAndTheTenantFetchRetriedOnce()
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.QuiesceAsync();
        h.StoreApp.AppAccessToken.TryGetValue(out var appToken).Should().BeTrue();
        h.Emulator.Revoke(appToken!.Value);

        var tenant = await h.StoreApp.Tenants.GetOrAdd("tenant-a").GetAsync(CancellationToken.None);

        h.Emulator.IsValid(tenant.Value).Should().BeTrue();
        h.Emulator.StoreTenantTokenCalls.Should().Be(2);
        h.StoreApp.AppAccessToken.TryGetValue(out var replaced).Should().BeTrue();
        replaced!.Value.Should().NotBe(appToken.Value);
    }

    [Fact]
    public async Task OlderTicket_Ignored()
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.QuiesceAsync();

        var stored = await h.StoreApp.ReceiveTicketAsync("older-ticket", h.Time.GetUtcNow().AddHours(-2));

        stored.Should().BeFalse();
    }

    [Fact]
    public async Task SimulatedDay_ThousandTenants_WithinTheFetchBudget_NoExpiredRead()
    {
        const int tenants = 1000;
        await using var h = await StoreAppHarness.StartAsync(services: s =>
        {
            s.Configure<RefreshingCacheOptions>(StoreAppHarness.Name, o => o.Jitter = TimeSpan.Zero);
            s.Configure<RefreshingCacheSetOptions>(StoreAppHarness.Name, o => o.MaxConcurrentFetches = 8);
        });
        await h.QuiesceAsync();
        var keys = Enumerable.Range(0, tenants).Select(i => "tenant-" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        foreach (var key in keys)
        {
            _ = h.StoreApp.Tenants.GetOrAdd(key);
        }

        await h.QuiesceAsync();
        var start = h.Time.GetUtcNow();
        var reads = 0;
        var invalid = 0;
        var wakes = 0;
        await h.AdvanceAsync(TimeSpan.FromDays(1), () =>
        {
            wakes++;
            foreach (var key in keys)
            {
                if (h.StoreApp.Tenants.TryGetValue(key, out var token))
                {
                    reads++;
                    if (!h.Emulator.IsValid(token.Value))
                    {
                        invalid++;
                    }
                }
            }
        });

        var tenantCalls = h.Emulator.StoreTenantTokenCalls;
        output.WriteLine($"tenant token calls {tenantCalls} for {tenants} tenants ({tenantCalls / (double)tenants:F2} each), app token calls {h.Emulator.StoreAppTokenCalls}, reads {reads}, invalid {invalid}, wakes {wakes}");
        (h.Time.GetUtcNow() - start).Should().Be(TimeSpan.FromDays(1));
        h.StoreApp.Tenants.Count.Should().Be(tenants);
        tenantCalls.Should().BeLessThanOrEqualTo(tenants * 13, "one fetch per token life: 13 a day, the first load included");
        h.Emulator.StoreAppTokenCalls.Should().BeLessThanOrEqualTo(13);
        reads.Should().BeGreaterThan(0);
        invalid.Should().Be(0);
    }
}

public sealed class StoreAppTicketAndOptionsTests
{
    [Fact]
    public async Task TicketRefused_10012_FetchFailsTransientlyAndAsksForAResend()
    {
        await using var h = await StoreAppHarness.StartAsync();
        await h.AdvanceAsync(TimeSpan.FromMinutes(2)); // past the resend the start asked for (one a minute at most)
        var resends = h.Emulator.ResendCalls;
        h.Emulator.InjectFault(FeishuFault.Error(10012, "app_ticket is invalid"));

        var refresh = () => h.StoreApp.AppAccessToken.RefreshAsync(CancellationToken.None);

        var error = (await refresh.Should().ThrowAsync<FeishuApiException>()).Which;
        error.Kind.Should().Be(FeishuErrorKind.InvalidTicket);
        error.IsTransient.Should().BeTrue();
        await h.QuiesceAsync();
        h.Emulator.ResendCalls.Should().Be(resends + 1);
    }

    [Fact]
    public async Task HealthChecks_Registered_HealthyOnceLoaded()
    {
        await using var h = await StoreAppHarness.StartAsync(storeApp: b => b.WithHealthCheck());
        var health = h.App.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();

        var report = await health.CheckHealthAsync();

        report.Entries.Keys.Should().Contain(["feishu-store-app:isv:app-token", "feishu-store-app:isv:tenants"]);
        report.Entries["feishu-store-app:isv:app-token"].Status.Should().Be(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy);
    }

    [Fact]
    public void Options_MissingVerificationToken_FailsNamingTheSetting()
    {
        var services = new ServiceCollection();
        services.AddFeishuStoreApp("isv", o =>
        {
            o.AppId = "cli_x";
            o.AppSecret = "s";
        });
        using var sp = services.BuildServiceProvider();

        var read = () => sp.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<FeishuStoreAppOptions>>().Get("isv");

        read.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>()
            .Which.Failures.Should().Contain(f => f.Contains("FeishuStoreApp:isv:VerificationToken is required", StringComparison.Ordinal));
    }
}
