using BackgroundCache.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Shared.Platforms;

/// <summary>
/// Hosts that register one platform token cache each and coordinate it through a real redis-server, on one
/// <see cref="FakeTimeProvider"/>; linked into the platform test projects.
/// </summary>
internal sealed class PlatformCluster : IAsyncDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _changed = new(0);
    private readonly Func<IServiceCollection, RefreshingCacheBuilder<AccessToken>> _register;
    private readonly string _redis;
    private readonly string _prefix = $"platform:{Guid.NewGuid():N}:";

    public PlatformCluster(string redisConfiguration, FakeTimeProvider time, string name, Func<IServiceCollection, RefreshingCacheBuilder<AccessToken>> register)
    {
        _redis = redisConfiguration;
        Time = time;
        Name = name;
        _register = register;
    }

    public FakeTimeProvider Time { get; }

    public string Name { get; }

    public List<IHost> Hosts { get; } = [];

    public IRefreshingCache<AccessToken> Cache(IHost host) => host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);

    public PeriodicCacheRefresher<AccessToken> Refresher(IHost host) => host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);

    public async Task AddHostAsync()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(Time);
        _register(builder.Services).UseRedisCoordination(o =>
        {
            o.Configuration = _redis;
            o.KeyPrefix = _prefix;
            o.LeaseDuration = Guard; // no real-time renewal tick decides an outcome
        });
        var host = builder.Build();
        Refresher(host).OnIdle = () => _changed.Release();
        await host.StartAsync().WaitAsync(Guard);
        Hosts.Add(host);
    }

    /// <summary>Waits until every host waits for a future refresh (re-checked on each refresher signal and every 20 ms).</summary>
    public async Task SettleAsync()
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!Hosts.All(IsSettled))
        {
            guard.Token.ThrowIfCancellationRequested();
            await _changed.WaitAsync(TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>Advances the clock by <paramref name="step"/>, letting every refresh due on the way run.</summary>
    public async Task AdvanceAsync(TimeSpan step)
    {
        var target = Time.GetUtcNow() + step;
        while (Hosts.Select(h => Cache(h).Status.NextRefreshAt).Where(n => n is not null).Min() is { } next && next <= target)
        {
            Time.Advance(next - Time.GetUtcNow());
            await SettleAsync();
        }

        Time.Advance(target - Time.GetUtcNow());
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in Hosts)
        {
            using var cts = new CancellationTokenSource(Guard);
            await host.StopAsync(cts.Token);
            host.Dispose();
        }

        _changed.Dispose();
    }

    private bool IsSettled(IHost host)
    {
        var status = Cache(host).Status;
        return Refresher(host).IsWaiting && status.NextRefreshAt is { } next && next > Time.GetUtcNow() && status.Version > 0;
    }
}
