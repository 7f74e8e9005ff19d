using System.Diagnostics.Metrics;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Tests;

public sealed class RegistrationTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    public static TheoryData<string, Action<RefreshingCacheOptions>> InvalidSettings => new()
    {
        { "RefreshInterval", o => o.RefreshInterval = TimeSpan.Zero },
        { "RefreshBeforeExpiry", o => o.RefreshBeforeExpiry = TimeSpan.FromSeconds(-1) },
        { "Jitter", o => o.Jitter = TimeSpan.FromSeconds(-1) },
        { "FetchTimeout", o => o.FetchTimeout = TimeSpan.Zero },
        { "RetryInitialDelay", o => o.RetryInitialDelay = TimeSpan.Zero },
        { "RetryMaxDelay", o => o.RetryMaxDelay = TimeSpan.FromMilliseconds(10) },
        { "InitialLoadTimeout", o => o.InitialLoadTimeout = TimeSpan.Zero },
        { "MaxStaleness", o => o.MaxStaleness = TimeSpan.FromMinutes(1) },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task StartAsync_InvalidSetting_FailsWithMessageNamingIt(string setting, Action<RefreshingCacheOptions> configure)
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>("rates", (_, _) => ValueTask.FromResult("v"), configure);
        using var host = builder.Build();

        var act = () => host.StartAsync();

        var thrown = await act.Should().ThrowAsync<OptionsValidationException>();
        thrown.Which.Message.Should().Contain($"RefreshingCacheOptions.{setting}").And.Contain("'rates'");
    }

    [Fact]
    public void AddRefreshingCache_UnnamedTwice_FailsSayingTheUnnamedCache()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>((_, _) => ValueTask.FromResult("v"));

        var act = () => builder.Services.AddRefreshingCache<string>((_, _) => ValueTask.FromResult("other"));

        act.Should().Throw<InvalidOperationException>()
            .Which.Message.Should().StartWith("The unnamed refreshing cache of String is already registered.")
            .And.Contain("services.Configure<RefreshingCacheOptions>(o => …)")
            .And.NotContain("named the unnamed");
    }

    [Fact]
    public void AddRefreshingCache_SameTypeAndNameTwice_FailsNamingTheCache()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>("rates", (_, _) => ValueTask.FromResult("v"));

        var act = () => builder.Services.AddRefreshingCache<string>("rates", (_, _) => ValueTask.FromResult("other"));

        act.Should().Throw<InvalidOperationException>().WithMessage("*String*'rates'*already registered*");
    }

    [Fact]
    public async Task AddRefreshingCache_SameNameOtherType_IsAnotherCache()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>("shared", (_, _) => ValueTask.FromResult("text"), o => o.Jitter = TimeSpan.Zero);
        builder.Services.AddRefreshingCache<int>("shared", (_, _) => ValueTask.FromResult(42));
        using var host = builder.Build();
        await host.StartAsync();

        (await host.Services.GetRequiredKeyedService<IRefreshingCache<string>>("shared").GetAsync()).Should().Be("text");
        (await host.Services.GetRequiredKeyedService<IRefreshingCache<int>>("shared").GetAsync()).Should().Be(42);
        await host.StopAsync();
    }

    [Fact]
    public async Task AddRefreshingCache_KeyedCachesOfOneType_AreIndependent()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>("a", (_, _) => ValueTask.FromResult("from a"), o => o.RefreshInterval = TimeSpan.FromMinutes(1));
        builder.Services.AddRefreshingCache<string>("b", (_, _) => ValueTask.FromResult("from b"), o => o.RefreshInterval = TimeSpan.FromMinutes(2));
        using var host = builder.Build();
        await host.StartAsync();

        var a = host.Services.GetRequiredKeyedService<IRefreshingCache<string>>("a");
        var b = host.Services.GetRequiredKeyedService<IRefreshingCache<string>>("b");

        (await a.GetAsync()).Should().Be("from a");
        (await b.GetAsync()).Should().Be("from b");
        host.Services.GetService<IRefreshingCache<string>>().Should().BeNull("only the unnamed cache is registered without a key");
        await host.StopAsync();
    }

    [Fact]
    public async Task AddRefreshingCache_DelegateFetch_RunsEachFetchInItsOwnScope()
    {
        var builder = CacheHarness<int>.CreateBuilder();
        builder.Services.AddScoped<ScopedCounter>();
        var seen = new List<ScopedCounter>();
        builder.Services.AddRefreshingCache<int>(async (sp, ct) =>
        {
            var counter = sp.GetRequiredService<ScopedCounter>();
            seen.Add(counter);
            await Task.Yield();
            return seen.Count;
        });
        using var host = builder.Build();
        await host.StartAsync();
        var cache = host.Services.GetRequiredService<IRefreshingCache<int>>();
        await cache.GetAsync();

        await cache.RefreshAsync();

        seen.Should().HaveCount(2);
        seen[0].Should().NotBeSameAs(seen[1]);
        seen.Should().OnlyContain(c => c.Disposed);
        await host.StopAsync();
    }

    [Fact]
    public async Task AddRefreshingCache_Subclass_IsBuiltByDiAndReadableByBothTypes()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddSingleton(new Greeting("hello"));
        builder.Services.AddRefreshingCache<string, GreetingRefresher>();
        using var host = builder.Build();
        await host.StartAsync();

        var cache = host.Services.GetRequiredService<IRefreshingCache<string>>();

        (await cache.GetAsync()).Should().Be("hello 1");
        host.Services.GetRequiredService<GreetingRefresher>().Should().BeSameAs(cache);
        await host.StopAsync();
    }

    [Fact]
    public async Task NamedSubclass_EveryWayIn_IsOneCachePerProvider_TwoProvidersFromOneCollectionNeverShareIt()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(new Greeting("hello"));
        services.AddRefreshingCache<string, GreetingRefresher>("greetings");
        services.AddRefreshingCache<string>("other", (_, _) => ValueTask.FromResult("other"));

        await using var first = services.BuildServiceProvider();
        await using var second = services.BuildServiceProvider();

        var cache = first.GetRequiredKeyedService<IRefreshingCache<string>>("greetings");
        first.GetRequiredKeyedService<GreetingRefresher>("greetings").Should().BeSameAs(cache);
        first.GetRequiredKeyedService<PeriodicCacheRefresher<string>>("greetings").Should().BeSameAs(cache);
        first.GetServices<IHostedService>().Should().Contain((IHostedService)cache).And.HaveCount(2);
        first.GetRequiredKeyedService<IRefreshingCache<string>>("other").Should().NotBeSameAs(cache);

        var other = second.GetRequiredKeyedService<IRefreshingCache<string>>("greetings");
        other.Should().NotBeSameAs(cache, "each provider owns its caches, as it owns its singletons");
        second.GetServices<IHostedService>().Should().Contain((IHostedService)other).And.NotContain((IHostedService)cache);

        await second.DisposeAsync();
        ((GreetingRefresher)other).Disposed.Should().BeTrue("the container disposes the caches it handed out");
        ((GreetingRefresher)cache).Disposed.Should().BeFalse();
    }

    [Fact]
    public async Task Refresher_RegisteredDirectly_FailsWithAMessageThatSaysHowToRegisterIt()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddSingleton(new Greeting("hello"));
        builder.Services.AddHostedService<GreetingRefresher>();
        using var host = builder.Build();

        var act = () => host.StartAsync();

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("*AddRefreshingCache<String, GreetingRefresher>*");
    }

    [Fact]
    public async Task WithMemoryCache_MirrorsEachValueUnderTheKey()
    {
        var n = 0;
        await using var h = await CacheHarness<string>.StartAsync(
            (_, _) => ValueTask.FromResult($"rates {++n}"),
            build: b => b.WithMemoryCache("rates"),
            services: s => s.AddMemoryCache());
        await h.WaitIdleAsync();
        var memory = h.Host.Services.GetRequiredService<IMemoryCache>();

        memory.Get<string>("rates").Should().Be("rates 1");
        await h.Cache.RefreshAsync();
        memory.Get<string>("rates").Should().Be("rates 2");
    }

    [Fact]
    public async Task WithMemoryCache_WithoutMemoryCacheRegistered_FailsStartWithAClearMessage()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache<string>((_, _) => ValueTask.FromResult("v")).WithMemoryCache("rates");
        using var host = builder.Build();

        var act = () => host.StartAsync();

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("*AddMemoryCache()*");
    }

    [Fact]
    public async Task WithHealthCheck_ReportsHealthyThenDegradedThenUnhealthy()
    {
        var fail = false;
        await using var h = await CacheHarness<AccessToken>.StartAsync(
            (sp, _) => fail
                ? ValueTask.FromException<AccessToken>(new InvalidOperationException("upstream down"))
                : ValueTask.FromResult(new AccessToken("tok", sp.GetRequiredService<TimeProvider>().GetUtcNow().AddHours(2))),
            o => o.RetryMaxDelay = TimeSpan.FromMinutes(10),
            b => b.WithHealthCheck());
        await h.WaitIdleAsync();
        var health = h.Host.Services.GetRequiredService<HealthCheckService>();

        var fresh = await health.CheckHealthAsync();
        fresh.Status.Should().Be(HealthStatus.Healthy);
        fresh.Entries.Should().ContainKey("backgroundcache:test:AccessToken");

        fail = true;
        await h.AdvanceToNextRefreshAsync();
        var degraded = await health.CheckHealthAsync();
        degraded.Status.Should().Be(HealthStatus.Degraded);
        degraded.Entries["backgroundcache:test:AccessToken"].Description.Should().Contain("upstream down");

        while (h.Cache.TryGetValue(out _))
        {
            await h.AdvanceToNextRefreshAsync();
        }

        (await health.CheckHealthAsync()).Status.Should().Be(HealthStatus.Unhealthy);
    }

    [Fact]
    public async Task Metrics_RecordAttemptsDurationsAndGauges()
    {
        var fail = false;
        await using var h = await CacheHarness<string>.StartAsync(
            (_, _) => fail ? ValueTask.FromException<string>(new InvalidOperationException("x")) : ValueTask.FromResult("v"),
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(1);
                o.RetryInitialDelay = TimeSpan.FromMinutes(1);
            },
            start: false);
        var meterFactory = h.Host.Services.GetRequiredService<IMeterFactory>();
        using var attempts = new MetricCollector<long>(meterFactory, BackgroundCacheDiagnostics.MeterName, "backgroundcache.refresh.attempts");
        using var duration = new MetricCollector<double>(meterFactory, BackgroundCacheDiagnostics.MeterName, "backgroundcache.refresh.duration");
        using var age = new MetricCollector<double>(meterFactory, BackgroundCacheDiagnostics.MeterName, "backgroundcache.value.age");
        using var failures = new MetricCollector<int>(meterFactory, BackgroundCacheDiagnostics.MeterName, "backgroundcache.refresh.consecutive_failures");
        await h.Host.StartAsync();
        await h.WaitIdleAsync();
        fail = true;
        await h.AdvanceToNextRefreshAsync();
        h.Time.Advance(TimeSpan.FromSeconds(1));

        age.RecordObservableInstruments();
        failures.RecordObservableInstruments();

        attempts.GetMeasurementSnapshot().Select(m => m.Tags[BackgroundCacheDiagnostics.OutcomeTag]).Should().Equal("success", "failure");
        attempts.GetMeasurementSnapshot().Should().OnlyContain(m => (string?)m.Tags[BackgroundCacheDiagnostics.CacheNameTag] == "test");
        duration.GetMeasurementSnapshot().Should().HaveCount(2);
        age.LastMeasurement!.Value.Should().Be(61);
        failures.LastMeasurement!.Value.Should().Be(1);
    }

    [Fact]
    public async Task Refresh_Failure_IsLoggedAsWarningWithStableEventIdAndTheHostKeepsRunning()
    {
        var fail = false;
        await using var h = await CacheHarness<string>.StartAsync(
            (_, _) => fail ? throw new InvalidOperationException("boom") : ValueTask.FromResult("v"),
            o => o.RefreshInterval = TimeSpan.FromMinutes(1));
        await h.WaitIdleAsync();
        fail = true;

        await h.AdvanceToNextRefreshAsync();
        await h.AdvanceToNextRefreshAsync();

        var records = h.Logs.GetSnapshot();
        records.Where(r => r.Id.Id == 1001).Should().HaveCount(2).And.OnlyContain(r => r.Exception is InvalidOperationException);
        records.Should().Contain(r => r.Id.Id == 1000);
        records.Where(r => r.Id.Id is 1000 or 1001).Select(r => r.Category).Distinct().Should().Equal(["BackgroundCache.RefreshingCache"], "the library's category, not the value type's ('BackgroundCache.String')");
        h.Host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested.Should().BeFalse();
    }

    [Fact]
    public void AccessToken_ToString_ShowsFingerprintNeverTheValue()
    {
        var token = new AccessToken("80_super-secret-token-value", DateTimeOffset.UnixEpoch);

        token.ToString().Should().NotContain("super-secret").And.Contain(token.Fingerprint);
        token.Fingerprint.Should().HaveLength(8);
        token.Should().Be(new AccessToken("80_super-secret-token-value", DateTimeOffset.UnixEpoch.AddHours(1)));
    }

    private sealed class ScopedCounter : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    private sealed record Greeting(string Text);

    private sealed class GreetingRefresher(Greeting greeting) : PeriodicCacheRefresher<string>
    {
        private int _n;

        public bool Disposed { get; private set; }

        public override void Dispose()
        {
            Disposed = true;
            base.Dispose();
        }

        protected override ValueTask<string> FetchAsync(CancellationToken cancellationToken) => ValueTask.FromResult($"{greeting.Text} {++_n}");
    }
}
