using BackgroundCache.Tests.Shared;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.WeChat.Tests;

/// <summary>
/// One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers the WeChat token of app "demo".
/// </summary>
internal sealed class WeChatHarness : IAsyncDisposable
{
    public const string AppId = "wx0123456789abcdef";
    public const string AppSecret = "s3cr3t-0f-the-app-do-not-print-me";
    public const string Name = "demo";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<AccessToken> _probe;

    private WeChatHarness(WeChatEmulator emulator, IHost host, FakeTimeProvider time)
    {
        Emulator = emulator;
        Host = host;
        Time = time;
        Refresher = host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);
        _probe = new RefresherProbe<AccessToken>(Refresher, time);
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
    }

    public WeChatEmulator Emulator { get; }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public PeriodicCacheRefresher<AccessToken> Refresher { get; }

    public IRefreshingCache<AccessToken> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static async Task<WeChatHarness> StartAsync(
        WeChatTokenMode mode = WeChatTokenMode.StableToken,
        Action<RefreshingCacheOptions>? cacheOptions = null,
        Action<WeChatEmulatorOptions>? emulatorOptions = null,
        Action<IServiceCollection>? services = null,
        Action<RefreshingCacheBuilder<AccessToken>>? build = null,
        bool start = true)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var options = new WeChatEmulatorOptions { TimeProvider = time };
        options.Apps[AppId] = AppSecret;
        emulatorOptions?.Invoke(options);
        var emulator = await WeChatEmulator.StartAsync(options);

        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        var cache = builder.Services.AddWeChatAccessToken(Name, o =>
        {
            o.AppId = AppId;
            o.AppSecret = AppSecret;
            o.BaseAddress = emulator.BaseAddress;
            o.Mode = mode;
        });
        if (cacheOptions is not null)
        {
            builder.Services.Configure(Name, cacheOptions);
        }

        build?.Invoke(cache);
        services?.Invoke(builder.Services);
        var host = builder.Build();
        var harness = new WeChatHarness(emulator, host, time);
        if (start)
        {
            await host.StartAsync();
        }

        return harness;
    }

    public Task WaitIdleAsync() => _probe.WaitIdleAsync();

    public Task<TimeSpan> AdvanceToNextRefreshAsync() => _probe.AdvanceToNextRefreshAsync();

    /// <summary>Advances the clock by <paramref name="step"/>, letting every refresh due on the way run to completion.</summary>
    public Task AdvanceAsync(TimeSpan step) => _probe.AdvanceAsync(step);

    /// <summary>Waits (on a real signal, no sleeping) until the emulator has received <paramref name="calls"/> token calls.</summary>
    public async Task WaitForTokenCallsAsync(int calls)
    {
        using var cts = new CancellationTokenSource(Guard);
        while (Emulator.TokenCalls < calls)
        {
            cts.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }

    public async Task WaitForHeldCallsAsync(int calls)
    {
        using var cts = new CancellationTokenSource(Guard);
        while (Emulator.HeldCalls < calls)
        {
            cts.Token.ThrowIfCancellationRequested();
            await Task.Yield();
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
        await Emulator.DisposeAsync();
        _probe.Dispose();
    }
}
