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
    private readonly string? _redis;
    private readonly string _prefix = $"platform:{Guid.NewGuid():N}:";

    /// <param name="redisConfiguration">The redis-server to coordinate through, or null for hosts that each fetch on their own.</param>
    public PlatformCluster(string? redisConfiguration, FakeTimeProvider time, string name, Func<IServiceCollection, RefreshingCacheBuilder<AccessToken>> register)
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
        var cache = _register(builder.Services);
        if (_redis is not null)
        {
            cache.UseRedisCoordination(o =>
            {
                o.Configuration = _redis;
                o.KeyPrefix = _prefix;
                o.LeaseDuration = Guard; // no real-time renewal tick decides an outcome
            });
        }

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
    /// <summary>
    /// Reads every host's token each <paramref name="step"/> for a day (a second host joins <paramref name="stagger"/> after
    /// the first, as in a rolling deploy); returns the token calls made during the day and the reads
    /// <paramref name="isValid"/> refused.
    /// </summary>
    public async Task<(int Calls, int Invalid)> RunDayAsync(Func<int> tokenCalls, Func<string, bool> isValid, TimeSpan stagger, TimeSpan step)
    {
        await AddHostAsync();
        await SettleAsync();
        await AdvanceAsync(stagger);
        await AddHostAsync();
        await SettleAsync();
        var end = Time.GetUtcNow().AddDays(1);
        var before = tokenCalls();
        var invalid = 0;
        while (Time.GetUtcNow() < end)
        {
            foreach (var host in Hosts)
            {
                Cache(host).TryGetValue(out var token).Should().BeTrue();
                invalid += isValid(token!.Value) ? 0 : 1;
            }

            await AdvanceAsync(step);
        }

        return (tokenCalls() - before, invalid);
    }

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
