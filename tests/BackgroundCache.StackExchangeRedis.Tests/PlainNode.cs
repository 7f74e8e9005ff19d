using BackgroundCache.StackExchangeRedis.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// An upstream that behaves like WeChat's classic token endpoint: each call issues a new token and the previous one dies
/// <see cref="Overlap"/> later (on the shared fake clock). Tokens are <c>t1</c>, <c>t2</c>, … in issue order.
/// </summary>
internal sealed class ClassicUpstream(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, DateTimeOffset?> _diesAt = [];
    private string? _latest;
    private int _calls;

    public static TimeSpan Overlap { get; } = TimeSpan.FromMinutes(5);

    public int Calls => Volatile.Read(ref _calls);

    public string? Latest
    {
        get
        {
            lock (_gate)
            {
                return _latest;
            }
        }
    }

    public string Issue()
    {
        lock (_gate)
        {
            var token = $"t{++_calls}";
            if (_latest is not null)
            {
                _diesAt[_latest] = time.GetUtcNow() + Overlap;
            }

            _diesAt[token] = null;
            _latest = token;
            return token;
        }
    }

    /// <summary>Gets whether a token is accepted now.</summary>
    public bool IsValid(string? token)
    {
        lock (_gate)
        {
            return token is not null && _diesAt.TryGetValue(token, out var diesAt) && (diesAt is null || diesAt > time.GetUtcNow());
        }
    }
}

/// <summary>A host with one coordinated string cache ("plain") whose fetch the test controls.</summary>
internal sealed class PlainNode : IAsyncDisposable
{
    public const string Name = "plain";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    private PlainNode(IHost host) => Host = host;

    public IHost Host { get; }

    public IRefreshingCache<string> Cache => Host.Services.GetRequiredKeyedService<IRefreshingCache<string>>(Name);

    public RedisCacheCoordinator<string> Coordinator => Host.Services.GetRequiredKeyedService<RedisCacheCoordinator<string>>(Name);

    public string? Served => Cache.TryGetValue(out var value) ? value : null;

    public static async Task<PlainNode> StartAsync(string configuration, string prefix, FakeTimeProvider time, Func<CancellationToken, Task<string>> fetch, Action<RedisCoordinationOptions>? redis = null, Action<IHost>? beforeStart = null, bool waitForValue = true, Action<HostApplicationBuilder>? configure = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        configure?.Invoke(builder);
        builder.Services.AddRefreshingCache<string>(Name, async (_, ct) => await fetch(ct), o =>
            {
                o.RefreshInterval = TimeSpan.FromHours(1);
                o.FetchTimeout = TimeSpan.FromHours(1);
            })
            .UseRedisCoordination(o =>
            {
                o.Configuration = configuration;
                o.KeyPrefix = prefix;
                o.LeaseDuration = TimeSpan.FromSeconds(30);
                redis?.Invoke(o);
            });
        var host = builder.Build();
        beforeStart?.Invoke(host);
        await host.StartAsync().WaitAsync(Guard);
        var node = new PlainNode(host);
        if (waitForValue)
        {
            await node.Cache.GetAsync().AsTask().WaitAsync(Guard); // loaded (from Redis or the upstream)
        }

        return node;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
    }
}

/// <summary>Waits on conditions that real time makes true (a Redis notification, a reconnect), guarded.</summary>
internal static class Eventually
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    public static async Task TrueAsync(Func<bool> condition, Func<string>? describe = null)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!condition())
        {
            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException("Condition not met within the guard. " + describe?.Invoke());
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }
    }

    public static async Task TrueAsync(Func<Task<bool>> condition, Func<string>? describe = null)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!await condition())
        {
            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException("Condition not met within the guard. " + describe?.Invoke());
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), CancellationToken.None);
        }
    }
}
