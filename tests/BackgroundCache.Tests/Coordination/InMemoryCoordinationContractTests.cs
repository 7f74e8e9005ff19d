using BackgroundCache.Tests.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Tests.Coordination;

/// <summary>The coordination contract, held by the in-memory coordinator (the example of docs/coordination.md).</summary>
public sealed class InMemoryCoordinationContractTests : CoordinationContractTests
{
    protected override Task<ICoordinationContractStore> CreateStoreAsync() => Task.FromResult<ICoordinationContractStore>(new Store());

    private sealed class Store : ICoordinationContractStore
    {
        private static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(30);
        private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(20);
        private InMemoryCoordinationStore? _store;

        public void Coordinate(RefreshingCacheBuilder<string> cache) =>
            cache.UseCoordinator(sp => new InMemoryCoordinator<string>(Shared(sp), cache.Name, LeaseDuration, MaxWait));

        public void Coordinate(RefreshingCacheSetBuilder<string, string> cacheSet) =>
            cacheSet.UseCoordinator(sp => new InMemoryCoordinator<string>(Shared(sp), "set:" + cacheSet.Name, LeaseDuration, MaxWait));

        public Task LapseLeaseAsync(string name)
        {
            _store?.LapseLease(name);
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => default;

        // One store for every instance of the test, on the instances' shared clock.
        private InMemoryCoordinationStore Shared(IServiceProvider services)
        {
            var clock = services.GetRequiredService<TimeProvider>();
            Interlocked.CompareExchange(ref _store, new InMemoryCoordinationStore(clock), null);
            return _store;
        }
    }
}
