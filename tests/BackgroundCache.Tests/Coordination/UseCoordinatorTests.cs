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
