using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Contracts;

/// <summary>
/// What every coordinator must do, written once and run against each one (the in-memory coordinator in the core's tests,
/// Redis in its package's tests): derive, and say how to attach the coordinator under test to a cache or a set.
/// Instances are real hosts in one process that share a clock, an upstream and the coordinator's store.
/// </summary>
public abstract class CoordinationContractTests
{
    /// <summary>Creates the shared store of one test (fresh, empty) and what attaches it to each instance's registrations.</summary>
    protected abstract Task<ICoordinationContractStore> CreateStoreAsync();

    [SkippableFact]
    public async Task Start_WhileAValidValueIsStored_AdoptsItWithoutAnUpstreamCall()
    {
        await using var cluster = await CoordinatedInstances.CreateAsync(await CreateStoreAsync());
        var first = await cluster.StartCacheAsync();
        var stored = first.Status.Version;

        var others = new[] { await cluster.StartCacheAsync(), await cluster.StartCacheAsync() };

        cluster.Upstream.Calls.Should().Be(1);
        others.Should().OnlyContain(c => c.Status.Version == stored && Served(c) == Served(first));
    }

    [SkippableFact]
    public async Task ScheduledRefresh_AcrossThreeInstances_CallsTheUpstreamOnceAndAllServeItsValueWithOneNewerVersion()
    {
        await using var cluster = await CoordinatedInstances.CreateAsync(await CreateStoreAsync());
        var caches = new[] { await cluster.StartCacheAsync(), await cluster.StartCacheAsync(), await cluster.StartCacheAsync() };
        var before = caches[0].Status.Version;

        // Every refresh due on the way runs: the leader's, then the followers' later checks.
        await cluster.AdvanceAsync(CoordinatedInstances.RefreshInterval + TimeSpan.FromMinutes(2));
        await cluster.WaitUntilAsync(() => caches.All(c => c.Status.Version > before) && caches.Select(c => c.Status.Version).Distinct().Count() == 1);

        cluster.Upstream.Calls.Should().Be(2);
        caches.Select(Served).Should().OnlyContain(v => v == Served(caches[0])).And.NotContain("#1");
    }

    [SkippableFact]
    public async Task Report_OnAFollower_LeadsToOneNewValueForAllInstances()
    {
        await using var cluster = await CoordinatedInstances.CreateAsync(await CreateStoreAsync());
        var caches = new[] { await cluster.StartCacheAsync(), await cluster.StartCacheAsync(), await cluster.StartCacheAsync() };
        var rejected = Served(caches[0])!;
        var version = caches[0].Status.Version;

        var replacement = await caches[2].InvalidateAsync(rejected).WaitAsync(CoordinatedInstances.Guard);
        await cluster.WaitUntilAsync(() => caches.All(c => Served(c) == replacement));

        cluster.Upstream.Calls.Should().Be(2);
        replacement.Should().NotBe(rejected);
        caches.Should().OnlyContain(c => c.Status.Version > version && c.Status.Version == caches[0].Status.Version);
    }

    [SkippableFact]
    public async Task Report_OnTheLeader_LeadsToOneNewValueForAllInstances()
    {
        await using var cluster = await CoordinatedInstances.CreateAsync(await CreateStoreAsync());
        var caches = new[] { await cluster.StartCacheAsync(), await cluster.StartCacheAsync() };
        var rejected = Served(caches[0])!;

        var replacement = await caches[0].InvalidateAsync(rejected).WaitAsync(CoordinatedInstances.Guard);
        await cluster.WaitUntilAsync(() => caches.All(c => Served(c) == replacement));

        cluster.Upstream.Calls.Should().Be(2);
        replacement.Should().NotBe(rejected);
    }

    [SkippableFact]
    public async Task StaleLeader_WhoseLeaseLapsedDuringItsCall_CannotOverwriteTheNewerValue()
    {
        await using var cluster = await CoordinatedInstances.CreateAsync(await CreateStoreAsync());
        var leader = await cluster.StartCacheAsync();
        var follower = await cluster.StartCacheAsync();

        // The leader's next call hangs (a paused process) while its lease lapses and the follower takes over.
        var held = cluster.Upstream.HoldNextCall();
        var stale = leader.RefreshAsync();
        await held.Entered.Task.WaitAsync(CoordinatedInstances.Guard);
        await cluster.Store.LapseLeaseAsync(CoordinatedInstances.CacheName);
        var newer = await follower.RefreshAsync().WaitAsync(CoordinatedInstances.Guard);
        held.Complete("stale");

        (await stale.WaitAsync(CoordinatedInstances.Guard)).Should().NotBe("stale");
        await cluster.WaitUntilAsync(() => Served(leader) == Served(follower) && leader.Status.Version == follower.Status.Version);
        newer.Should().NotBe("stale");
        Served(leader).Should().NotBe("stale");
    }

    [SkippableFact]
    public async Task SetKey_AddedOnOneInstance_IsTakenByTheOthersAndItsRemovalReachesThemAll()
    {
        await using var cluster = await CoordinatedInstances.CreateAsync(await CreateStoreAsync());
        var sets = new[] { await cluster.StartSetAsync(), await cluster.StartSetAsync() };
        var value = await sets[0].GetAsync("k").AsTask().WaitAsync(CoordinatedInstances.Guard);

        (await sets[1].GetAsync("k").AsTask().WaitAsync(CoordinatedInstances.Guard)).Should().Be(value);
        cluster.Upstream.Calls.Should().Be(1);

        await sets[0].RemoveAsync("k");
        await cluster.WaitUntilAsync(() => sets.All(s => !s.Keys.Contains("k")), () => string.Join(", ", sets.Select(s => string.Join("+", s.Keys))));
    }

    private static string? Served(IRefreshingCache<string> cache) => cache.TryGetValue(out var value) ? value : null;
}

/// <summary>Attaches the coordinator under test, over one shared store, to the registrations of each instance.</summary>
public interface ICoordinationContractStore : IAsyncDisposable
{
    /// <summary>Coordinates a single cache (values: strings) through the shared store.</summary>
    void Coordinate(RefreshingCacheBuilder<string> cache);

    /// <summary>Coordinates a set (keys and values: strings) through the shared store.</summary>
    void Coordinate(RefreshingCacheSetBuilder<string, string> cacheSet);

    /// <summary>Makes the lease of the cache named <paramref name="name"/> lapse now, whoever holds it.</summary>
    Task LapseLeaseAsync(string name);
}

/// <summary>Instances (hosts) in one process, sharing a fake clock, a counting upstream and the store.</summary>
internal sealed class CoordinatedInstances : IAsyncDisposable
{
    public const string CacheName = "contract";
    public const string SetName = "contract-set";
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromHours(1);
    private readonly List<IHost> _hosts = [];

    private CoordinatedInstances(ICoordinationContractStore store) => Store = store;

    public ICoordinationContractStore Store { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));

    public ContractUpstream Upstream { get; } = new();

    public static Task<CoordinatedInstances> CreateAsync(ICoordinationContractStore store) => Task.FromResult(new CoordinatedInstances(store));

    /// <summary>Starts an instance with the coordinated cache; it has a value when this returns.</summary>
    public async Task<IRefreshingCache<string>> StartCacheAsync()
    {
        var host = await StartAsync(services => Store.Coordinate(services.AddRefreshingCache<string>(CacheName, (_, ct) => Upstream.FetchAsync(string.Empty, ct), o =>
        {
            o.RefreshInterval = RefreshInterval;
            o.Jitter = TimeSpan.Zero;
        })));
        var cache = host.Services.GetRequiredKeyedService<IRefreshingCache<string>>(CacheName);
        await cache.GetAsync().AsTask().WaitAsync(Guard);
        return cache;
    }

    /// <summary>Starts an instance with the coordinated set.</summary>
    public async Task<IRefreshingCacheSet<string, string>> StartSetAsync()
    {
        var host = await StartAsync(services => Store.Coordinate(services.AddRefreshingCacheSet<string, string>(SetName, (_, key, ct) => Upstream.FetchAsync(key, ct))));
        return host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, string>>(SetName);
    }

    /// <summary>Advances the clock in steps to each due refresh, letting each run (a refresh due is a timer that fires).</summary>
    public async Task AdvanceAsync(TimeSpan step)
    {
        var target = Time.GetUtcNow() + step;
        while (Caches().Select(c => c.Status.NextRefreshAt).Where(n => n is not null && n <= target).Min() is { } next && next > Time.GetUtcNow())
        {
            Time.Advance(next - Time.GetUtcNow());

            // Until every instance is back to waiting for a future refresh (a running refresh shows its past due time).
            await WaitUntilAsync(() => Caches().All(c => c.Status.NextRefreshAt is { } n && n > Time.GetUtcNow()));
        }

        Time.Advance(target - Time.GetUtcNow());
    }

    /// <summary>Re-checks a condition that other instances (and, for Redis, real time) make true; guarded.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, Func<string>? describe = null)
    {
        using var guard = new CancellationTokenSource(Guard);
        while (!condition())
        {
            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException("The instances did not converge: " + (describe?.Invoke() ?? string.Join(", ", Caches().Select(c => $"{c.Status.Version}/{c.Status.State}/{c.Status.LastError?.Message}"))));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            using var cts = new CancellationTokenSource(Guard);
            await host.StopAsync(cts.Token);
            host.Dispose();
        }

        await Store.DisposeAsync();
    }

    private IEnumerable<IRefreshingCache<string>> Caches() =>
        _hosts.Select(h => h.Services.GetKeyedService<IRefreshingCache<string>>(CacheName)).OfType<IRefreshingCache<string>>();

    private async Task<IHost> StartAsync(Action<IServiceCollection> register)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(Time);
        register(builder.Services);
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync().WaitAsync(Guard);
        return host;
    }
}

/// <summary>The upstream every instance calls: counts the calls, numbers the values (<c>{key}#{n}</c>), can hold one call.</summary>
internal sealed class ContractUpstream
{
    private readonly ConcurrentQueue<Hold> _holds = new();
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Makes the next call wait until the test completes it.</summary>
    public Hold HoldNextCall()
    {
        var hold = new Hold();
        _holds.Enqueue(hold);
        return hold;
    }

    public async ValueTask<string> FetchAsync(string key, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls);
        if (_holds.TryDequeue(out var hold))
        {
            hold.Entered.TrySetResult();
            return await hold.Value.Task.WaitAsync(cancellationToken);
        }

        return $"{key}#{call}";
    }

    public sealed class Hold
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<string> Value { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Complete(string value) => Value.TrySetResult(value);
    }
}
