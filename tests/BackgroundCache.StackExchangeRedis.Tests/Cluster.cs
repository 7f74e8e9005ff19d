using BackgroundCache.StackExchangeRedis.Internal;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// N hosts sharing one fake clock, one WeChat emulator (classic mode: a second refresher would invalidate the token)
/// and one Redis, each refreshing app "demo" with Redis coordination.
/// </summary>
internal sealed class Cluster : IAsyncDisposable
{
    public const string AppId = "wxcluster000001";
    public const string AppSecret = "cluster-secret";
    public const string Name = "demo";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);
    private readonly SemaphoreSlim _changed = new(0);
    private readonly RedisServer _redis;

    private Cluster(RedisServer redis, WeChatEmulator emulator, FakeTimeProvider time, string prefix)
    {
        _redis = redis;
        Emulator = emulator;
        Time = time;
        Prefix = prefix;
    }

    public WeChatEmulator Emulator { get; }

    public FakeTimeProvider Time { get; }

    public string Prefix { get; }

    public List<IHost> Hosts { get; } = [];

    /// <summary>
    /// Gets the lease: long, so that no real-time renewal tick decides an outcome on a loaded machine; a lapse is made
    /// explicit (the lease key deleted) where a test needs one.
    /// </summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(30);

    public static async Task<Cluster> StartAsync(RedisServer redis, int hosts, FakeTimeProvider? time = null, WeChatEmulator? emulator = null, string? prefix = null)
    {
        time ??= new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        if (emulator is null)
        {
            var options = new WeChatEmulatorOptions { TimeProvider = time };
            options.Apps[AppId] = AppSecret;
            emulator = await WeChatEmulator.StartAsync(options);
        }

        var cluster = new Cluster(redis, emulator, time, prefix ?? $"test:{Guid.NewGuid():N}:");
        for (var i = 0; i < hosts; i++)
        {
            await cluster.AddHostAsync();
        }

        return cluster;
    }

    public async Task<IHost> AddHostAsync()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(Time);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Services.AddWeChatAccessToken(Name, o =>
            {
                o.AppId = AppId;
                o.AppSecret = AppSecret;
                o.BaseAddress = Emulator.BaseAddress;
                o.Mode = WeChatTokenMode.Token;
            })
            .WithHealthCheck()
            .UseRedisCoordination(o =>
            {
                o.Configuration = _redis.Configuration;
                o.KeyPrefix = Prefix;
                o.LeaseDuration = LeaseDuration;
            });
        var host = builder.Build();
        Refresher(host).OnIdle = () => _changed.Release();
        await host.StartAsync().WaitAsync(Guard);
        Hosts.Add(host);
        return host;
    }

    public static PeriodicCacheRefresher<AccessToken> Refresher(IHost host) => host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);

    public static IRefreshingCache<AccessToken> Cache(IHost host) => host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);

    public static RedisCacheCoordinator<AccessToken> Coordinator(IHost host) => host.Services.GetRequiredKeyedService<RedisCacheCoordinator<AccessToken>>(Name);

    public static Task<HealthReport> HealthAsync(IHost host) => host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    /// <summary>
    /// Waits until every host's loop waits for a future refresh and all hosts serve the same version; the condition is
    /// re-checked on each refresher signal (and every 20 ms for notifications that arrive between them).
    /// </summary>
    public async Task SettleAsync(Action? eachCheck = null, bool sameVersion = true)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!IsSettled(sameVersion))
        {
            eachCheck?.Invoke();
            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException($"The cluster did not settle at {Time.GetUtcNow():O}:\n{Describe()}\n{DumpLogs()}");
            }

            await _changed.WaitAsync(TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>Advances the clock by <paramref name="step"/>, letting every refresh due on the way run (each host back to waiting).</summary>
    public async Task AdvanceAsync(TimeSpan step, Action? eachCheck = null)
    {
        var target = Time.GetUtcNow() + step;
        while (Hosts.Select(h => Cache(h).Status.NextRefreshAt).Where(n => n is not null).Min() is { } next && next <= target)
        {
            Time.Advance(next - Time.GetUtcNow());
            await SettleAsync(eachCheck, sameVersion: false);
        }

        Time.Advance(target - Time.GetUtcNow());
    }

    public bool IsSettled(bool sameVersion = true)
    {
        var now = Time.GetUtcNow();
        long? version = null;
        foreach (var host in Hosts)
        {
            var status = Cache(host).Status;
            if (!Refresher(host).IsWaiting || status.NextRefreshAt is not { } next || next <= now || status.Version == 0)
            {
                return false;
            }

            if (sameVersion && version is not null && version != status.Version)
            {
                return false;
            }

            version = status.Version;
        }

        return true;
    }

    public string Describe() => string.Join('\n', Hosts.Select((h, i) =>
    {
        var status = Cache(h).Status;
        return $"host{i}: waiting={Refresher(h).IsWaiting} state={status.State} version={status.Version} next={status.NextRefreshAt:O} leader={Coordinator(h).IsLeader} known={Coordinator(h).KnownVersion} error={status.LastError?.Message}";
    }));

    /// <summary>The BackgroundCache log lines of every host, for assertion messages.</summary>
    public string DumpLogs() => string.Join('\n', Hosts.SelectMany((h, i) => h.Services.GetFakeLogCollector().GetSnapshot()
        .Where(r => r.Category?.StartsWith("BackgroundCache", StringComparison.Ordinal) == true)
        .Select(r => $"{r.Timestamp:HH:mm:ss.fff} host{i} [{r.Id.Id}] {r.Message}")));

    /// <summary>Makes the lease lapse now (what real time does to a dead or paused leader's lease).</summary>
    public async Task LapseLeaseAsync()
    {
        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_redis.Configuration);
        await connection.GetDatabase().KeyDeleteAsync(RedisKeyNames.Registration(Prefix, Name) + ":lease");
    }

    public async Task StopHostAsync(IHost host)
    {
        using var cts = new CancellationTokenSource(Guard);
        await host.StopAsync(cts.Token);
        host.Dispose();
        Hosts.Remove(host);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Hosts.ToList())
        {
            await StopHostAsync(host);
        }

        _changed.Dispose();
    }
}
