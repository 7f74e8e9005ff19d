using BackgroundCache.Douyin.Testing;
using BackgroundCache.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Douyin.Tests;

/// <summary>One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers app "shop".</summary>
internal sealed class DouyinHarness : IAsyncDisposable
{
    public const string ClientKey = "awshop0123456789";
    public const string ClientSecret = "s3cr3t-0f-the-douyin-app-do-not-print";
    public const string Name = "shop";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<AccessToken> _probe;

    private DouyinHarness(DouyinEmulator emulator, IHost host, FakeTimeProvider time)
    {
        Emulator = emulator;
        Host = host;
        Time = time;
        _probe = new RefresherProbe<AccessToken>(host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name), time);
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
    }

    public DouyinEmulator Emulator { get; }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public IRefreshingCache<AccessToken> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static async Task<DouyinEmulator> StartEmulatorAsync(FakeTimeProvider time, Action<DouyinEmulatorOptions>? configure = null)
    {
        var options = new DouyinEmulatorOptions { TimeProvider = time };
        options.Apps[ClientKey] = ClientSecret;
        configure?.Invoke(options);
        return await DouyinEmulator.StartAsync(options);
    }

    public static void Configure(DouyinOptions o, DouyinEmulator emulator, bool stable, string secret = ClientSecret)
    {
        o.ClientKey = ClientKey;
        o.ClientSecret = secret;
        o.Stable = stable;
        o.BaseAddress = emulator.BaseAddress;
    }

    public static async Task<DouyinHarness> StartAsync(
        bool stable = false,
        Action<DouyinEmulator>? beforeStart = null,
        Action<IServiceCollection>? services = null,
        string secret = ClientSecret)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var emulator = await StartEmulatorAsync(time);
        beforeStart?.Invoke(emulator);
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Services.AddDouyinClientToken(Name, o => Configure(o, emulator, stable, secret));
        services?.Invoke(builder.Services);
        var host = builder.Build();
        var harness = new DouyinHarness(emulator, host, time);
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
