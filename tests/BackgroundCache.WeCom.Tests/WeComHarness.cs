using BackgroundCache.Tests.Shared;
using BackgroundCache.WeCom.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.WeCom.Tests;

/// <summary>One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers the token of app "hr".</summary>
internal sealed class WeComHarness : IAsyncDisposable
{
    public const string CorpId = "ww0123456789abcdef";
    public const string HrSecret = "hr-s3cr3t-do-not-print-me-0123456789abcdefgh";
    public const string CrmSecret = "crm-s3cr3t-do-not-print-me-0123456789abcdefg";
    public const long HrAgentId = 1000002;
    public const long CrmAgentId = 1000003;
    public const string Name = "hr";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<AccessToken> _probe;

    private WeComHarness(WeComEmulator emulator, IHost host, FakeTimeProvider time)
    {
        Emulator = emulator;
        Host = host;
        Time = time;
        Refresher = host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);
        _probe = new RefresherProbe<AccessToken>(Refresher, time);
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
    }

    public WeComEmulator Emulator { get; }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public PeriodicCacheRefresher<AccessToken> Refresher { get; }

    public IRefreshingCache<AccessToken> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static FakeTimeProvider NewClock() => new(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));

    public static async Task<WeComEmulator> StartEmulatorAsync(FakeTimeProvider time, Action<WeComEmulatorOptions>? configure = null)
    {
        var options = new WeComEmulatorOptions { TimeProvider = time };
        configure?.Invoke(options);
        var emulator = await WeComEmulator.StartAsync(options);
        emulator.AddApp(CorpId, HrSecret, HrAgentId);
        emulator.AddApp(CorpId, CrmSecret, CrmAgentId);
        return emulator;
    }

    public static async Task<WeComHarness> StartAsync(
        Action<IServiceCollection, WeComEmulator>? services = null,
        Action<WeComEmulatorOptions>? emulatorOptions = null,
        Action<RefreshingCacheBuilder<AccessToken>>? build = null,
        bool start = true)
    {
        var time = NewClock();
        var emulator = await StartEmulatorAsync(time, emulatorOptions);
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        var cache = builder.Services.AddWeComAccessToken(Name, o =>
        {
            o.CorpId = CorpId;
            o.CorpSecret = HrSecret;
            o.AgentId = HrAgentId;
            o.BaseAddress = emulator.BaseAddress;
        });
        build?.Invoke(cache);
        services?.Invoke(builder.Services, emulator);
        var host = builder.Build();
        var harness = new WeComHarness(emulator, host, time);
        if (start)
        {
            await host.StartAsync();
        }

        return harness;
    }

    public Task WaitIdleAsync() => _probe.WaitIdleAsync();

    /// <summary>Advances the clock by <paramref name="step"/>, letting every refresh due on the way run to completion.</summary>
    public Task AdvanceAsync(TimeSpan step) => _probe.AdvanceAsync(step);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
        await Emulator.DisposeAsync();
        _probe.Dispose();
    }
}
