using BackgroundCache.DingTalk.Testing;
using BackgroundCache.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.DingTalk.Tests;

/// <summary>One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers app "crm".</summary>
internal sealed class DingTalkHarness : IAsyncDisposable
{
    public const string AppKey = "dingabcdefghijklmno";
    public const string AppSecret = "s3cr3t-0f-the-dingtalk-app-do-not-print";
    public const string Name = "crm";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<AccessToken> _probe;

    private DingTalkHarness(DingTalkEmulator emulator, IHost host, FakeTimeProvider time)
    {
        Emulator = emulator;
        Host = host;
        Time = time;
        _probe = new RefresherProbe<AccessToken>(host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name), time);
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
    }

    public DingTalkEmulator Emulator { get; }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public IRefreshingCache<AccessToken> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static async Task<DingTalkEmulator> StartEmulatorAsync(FakeTimeProvider time)
    {
        var options = new DingTalkEmulatorOptions { TimeProvider = time };
        options.Apps[AppKey] = AppSecret;
        return await DingTalkEmulator.StartAsync(options);
    }

    public static void Configure(DingTalkOptions o, DingTalkEmulator emulator, DingTalkApi api, string secret = AppSecret)
    {
        o.AppKey = AppKey;
        o.AppSecret = secret;
        o.Api = api;
        o.BaseAddress = emulator.BaseAddress;
        o.LegacyBaseAddress = emulator.BaseAddress;
    }

    public static async Task<DingTalkHarness> StartAsync(
        DingTalkApi api = DingTalkApi.New,
        Action<DingTalkEmulator>? beforeStart = null,
        Action<IServiceCollection>? services = null,
        string secret = AppSecret)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var emulator = await StartEmulatorAsync(time);
        beforeStart?.Invoke(emulator);
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Services.AddDingTalkAccessToken(Name, o => Configure(o, emulator, api, secret));
        services?.Invoke(builder.Services);
        var host = builder.Build();
        var harness = new DingTalkHarness(emulator, host, time);
        await host.StartAsync();
        return harness;
    }

    public Task WaitIdleAsync() => _probe.WaitIdleAsync();

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
