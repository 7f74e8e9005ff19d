using System.Threading.Channels;
using BackgroundCache.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Coordination;

public sealed class UseCoordinatorTests
{
    [Fact]
    public void UseCoordinator_OnASetWhoseKeysCannotBeSharedAsText_Throws()
    {
        var services = new ServiceCollection();
        var set = services.AddRefreshingCacheSet<Uri, string>("uris", (_, key, _) => ValueTask.FromResult(key.ToString()));

        var act = () => set.UseCoordinator(_ => throw new InvalidOperationException("never built"));

        act.Should().Throw<NotSupportedException>().WithMessage("*Uri*");
    }

    [Fact]
    public async Task UseCoordinator_ACacheAndASet_HandCoordinatorsViewsThatReadersCannotReach()
    {
        var store = new InMemoryCoordinationStore(new FakeTimeProvider());
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        var coordinators = new List<Recording>();
        builder.Services.AddRefreshingCache<string>("one", (_, _) => ValueTask.FromResult("v"))
            .UseCoordinator(_ => Add(new Recording(store, "one")));
        builder.Services.AddRefreshingCacheSet<string, string>("many", (_, key, _) => ValueTask.FromResult(key))
            .UseCoordinator(_ => Add(new Recording(store, "many")));
        using var host = builder.Build();
        await host.StartAsync();

        var cache = host.Services.GetRequiredKeyedService<IRefreshingCache<string>>("one");
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, string>>("many");
        (await cache.GetAsync()).Should().Be("v");
        (await set.GetAsync("k")).Should().Be("k");
        await host.StopAsync();

        coordinators.Should().HaveCount(2).And.OnlyContain(c => c.Started != null && c.Refreshed != null);
        cache.Should().NotBeAssignableTo<ICoordinatedValues<string>>().And.NotBeAssignableTo<ICoordinatedEntry<string>>();
        set.Should().NotBeAssignableTo<ICoordinatedValues<string>>();
        set.GetOrAdd("k").Should().NotBeAssignableTo<ICoordinatedEntry<string>>();
        coordinators[1].Refreshed!.CoordinationKey.Should().Be("k");
        coordinators[1].Started!.Name.Should().Be("many");

        Recording Add(Recording coordinator)
        {
            coordinators.Add(coordinator);
            return coordinator;
        }
    }

    [Fact]
    public async Task RefreshAsync_JoiningAnAttemptThatEndsWithTheValueAdoptedMeanwhile_GetsOneMoreAttempt()
    {
        // The race a Redis follower met under load: its first load was still waiting for the leader when the leader's value
        // arrived by notification (adopted), and a forced refresh joined that attempt, which then took the same value
        // from the store. The refresh must bring a newer value, not the one served when it was asked.
        var coordinator = new Gated();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(DateTimeOffset.UtcNow));
        builder.Services.AddRefreshingCache<string>("one", (_, _) => ValueTask.FromResult("never called"))
            .UseCoordinator(_ => coordinator);
        using var host = builder.Build();
        await host.StartAsync();
        var cache = host.Services.GetRequiredKeyedService<IRefreshingCache<string>>("one");

        var first = await coordinator.NextCallAsync(); // the first load, decided on nothing served
        first.DecidedOn.Should().Be(0);
        first.Entry.PublishShared("shared", null, 5, force: false); // another instance's value, adopted meanwhile
        cache.TryGetValue(out var served).Should().BeTrue();
        served.Should().Be("shared");
        var refresh = cache.RefreshAsync();
        first.Answer.SetResult(new CoordinatedResult<string>("shared", 5, fromUpstream: false)); // the store still holds it

        var second = await coordinator.NextCallAsync();
        second.DecidedOn.Should().Be(5, "one more attempt, decided on the value served when the refresh was asked");
        refresh.IsCompleted.Should().BeFalse();
        second.Answer.SetResult(new CoordinatedResult<string>("fresh", 6, fromUpstream: true));
        (await refresh.WaitAsync(TimeSpan.FromSeconds(30))).Should().Be("fresh");

        // A refresh that joins an attempt decided on the value it saw is answered by that attempt alone.
        var third = cache.RefreshAsync();
        var call = await coordinator.NextCallAsync();
        call.DecidedOn.Should().Be(6);
        var joined = cache.RefreshAsync();
        call.Answer.SetResult(new CoordinatedResult<string>("newer", 7, fromUpstream: true));
        (await third.WaitAsync(TimeSpan.FromSeconds(30))).Should().Be("newer");
        (await joined.WaitAsync(TimeSpan.FromSeconds(30))).Should().Be("newer");
        coordinator.Calls.Reader.TryRead(out _).Should().BeFalse("no further attempt");
        await host.StopAsync();
    }

    /// <summary>A coordinator whose every refresh waits for the test's answer.</summary>
    private sealed class Gated : ICacheCoordinator<string>
    {
        public Channel<(long DecidedOn, ICoordinatedEntry<string> Entry, TaskCompletionSource<CoordinatedResult<string>> Answer)> Calls { get; } =
            Channel.CreateUnbounded<(long, ICoordinatedEntry<string>, TaskCompletionSource<CoordinatedResult<string>>)>();

        public async Task<(long DecidedOn, ICoordinatedEntry<string> Entry, TaskCompletionSource<CoordinatedResult<string>> Answer)> NextCallAsync() =>
            await Calls.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        public ValueTask StartAsync(ICoordinatedValues<string> values, CancellationToken cancellationToken) => default;

        public async ValueTask<CoordinatedResult<string>> RefreshAsync(ICoordinatedEntry<string> entry, Func<CancellationToken, ValueTask<string>> fetch, bool forced, string? rejected, long decidedOnVersion, CancellationToken cancellationToken)
        {
            var answer = new TaskCompletionSource<CoordinatedResult<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
            Calls.Writer.TryWrite((decidedOnVersion, entry, answer));
            return await answer.Task.WaitAsync(cancellationToken);
        }

        public ValueTask RemoveAsync(string key, CancellationToken cancellationToken) => default;

        public ValueTask StopAsync(CancellationToken cancellationToken) => default;

        public void Dispose()
        {
        }
    }

    /// <summary>The in-memory coordinator, recording what the engine handed it.</summary>
    private sealed class Recording(InMemoryCoordinationStore store, string space) : ICacheCoordinator<string>
    {
        private readonly InMemoryCoordinator<string> _inner = new(store, space, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(20));

        public ICoordinatedValues<string>? Started { get; private set; }

        public ICoordinatedEntry<string>? Refreshed { get; private set; }

        public ValueTask StartAsync(ICoordinatedValues<string> values, CancellationToken cancellationToken)
        {
            Started = values;
            return _inner.StartAsync(values, cancellationToken);
        }

        public ValueTask<CoordinatedResult<string>> RefreshAsync(ICoordinatedEntry<string> entry, Func<CancellationToken, ValueTask<string>> fetch, bool forced, string? rejected, long decidedOnVersion, CancellationToken cancellationToken)
        {
            Refreshed = entry;
            return _inner.RefreshAsync(entry, fetch, forced, rejected, decidedOnVersion, cancellationToken);
        }

        public ValueTask RemoveAsync(string key, CancellationToken cancellationToken) => _inner.RemoveAsync(key, cancellationToken);

        public ValueTask StopAsync(CancellationToken cancellationToken) => _inner.StopAsync(cancellationToken);

        public void Dispose() => _inner.Dispose();
    }
}
