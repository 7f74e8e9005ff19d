using BackgroundCache.Tests.Contracts;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>The coordination contract (tests/Shared/Coordination), held by the Redis coordinator on a real redis-server.</summary>
[Collection(RedisTests.Name)]
public sealed class RedisCoordinationContractTests(RedisFixture redis) : CoordinationContractTests
{
    protected override Task<ICoordinationContractStore> CreateStoreAsync() =>
        Task.FromResult<ICoordinationContractStore>(new Store(redis.Server.Configuration, $"contract:{Guid.NewGuid():N}:"));

    private sealed class Store(string configuration, string prefix) : ICoordinationContractStore
    {
        public void Coordinate(RefreshingCacheBuilder<string> cache) => cache.UseRedisCoordination(Configure);

        public void Coordinate(RefreshingCacheSetBuilder<string, string> cacheSet) => cacheSet.UseRedisCoordination(Configure);

        public async Task LapseLeaseAsync(string name)
        {
            // A value other than an AccessToken has its type in the Redis keys.
            await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration);
            await connection.GetDatabase().KeyDeleteAsync($"{prefix}{name}:String:lease");
        }

        public ValueTask DisposeAsync() => default;

        private void Configure(RedisCoordinationOptions options)
        {
            options.Configuration = configuration;
            options.KeyPrefix = prefix;
            options.LeaseDuration = TimeSpan.FromSeconds(30); // no real-time renewal tick decides an outcome
        }
    }
}
