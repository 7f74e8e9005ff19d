using BackgroundCache.Feishu.Testing;
using BackgroundCache.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Feishu.Tests;

/// <summary>One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers the tenant token "ops".</summary>
internal sealed class FeishuHarness : IAsyncDisposable
{
    public const string AppId = "cli_a1b2c3d4e5f60001";
    public const string AppSecret = "f3ishu-s3cr3t-never-print-me";
    public const string Name = "ops";
    private readonly RefresherProbe<AccessToken> _probe;

    private FeishuHarness(FeishuEmulator emulator, IHost host, FakeTimeProvider time)
    {
        Emulator = emulator;
        Host = host;
        Time = time;
        Refresher = host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);
        _probe = new RefresherProbe<AccessToken>(Refresher, time);
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
    }

    public FeishuEmulator Emulator { get; }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public PeriodicCacheRefresher<AccessToken> Refresher { get; }

    public IRefreshingCache<AccessToken> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static FakeTimeProvider NewClock() => new(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));

    public static async Task<FeishuHarness> StartAsync(
        Action<RefreshingCacheOptions>? cacheOptions = null,
        Action<IServiceCollection>? services = null,
        Action<RefreshingCacheBuilder<AccessToken>>? build = null,
        FeishuEmulator? emulator = null,
        FakeTimeProvider? time = null,
        bool appToken = false)
    {
        time ??= NewClock();
        if (emulator is null)
        {
            var options = new FeishuEmulatorOptions { TimeProvider = time };
            options.Apps[AppId] = AppSecret;
            emulator = await FeishuEmulator.StartAsync(options);
        }

        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        Action<FeishuOptions> configure = o =>
        {
            o.AppId = AppId;
            o.AppSecret = AppSecret;
            o.BaseAddress = emulator.BaseAddress;
        };
        var cache = appToken ? builder.Services.AddFeishuAppAccessToken(Name, configure) : builder.Services.AddFeishuTenantAccessToken(Name, configure);
        if (cacheOptions is not null)
        {
            builder.Services.Configure(Name, cacheOptions);
        }

        build?.Invoke(cache);
        services?.Invoke(builder.Services);
        var host = builder.Build();
        var harness = new FeishuHarness(emulator, host, time);
        await host.StartAsync();
        await harness.Cache.GetAsync(CancellationToken.None);
        await harness._probe.WaitIdleAsync();
        return harness;
    }

    public Task AdvanceAsync(TimeSpan step) => _probe.AdvanceAsync(step);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Host.StopAsync(cts.Token);
        Host.Dispose();
        await Emulator.DisposeAsync();
        _probe.Dispose();
    }
}
