using BackgroundCache.StackExchangeRedis.Tests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.OAuth.Tests;

/// <summary>Health checks and Redis coordination come from the builders the client credentials registration returns.</summary>
public sealed class BuilderChainTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task UseRedisCoordination_TwoInstances_OneTokenRequestAndTheSameToken()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var issuer = await FakeIssuer.StartAsync();
        var prefix = "oauth-" + Guid.NewGuid().ToString("N");
        void Chain(RefreshingCacheBuilder<AccessToken> cache) => cache.WithHealthCheck().UseRedisCoordination(o =>
        {
            o.Configuration = redis.Configuration;
            o.KeyPrefix = prefix;
        });

        await using var first = await ClientHost.StartAsync(o => Configure(o, issuer), build: Chain);
        await using var second = await ClientHost.StartAsync(o => Configure(o, issuer), build: Chain, waitForFirstToken: false);
        var one = await first.Cache.GetAsync().AsTask().WaitAsync(Guard);
        var two = await second.Cache.GetAsync().AsTask().WaitAsync(Guard);

        two.Should().Be(one);
        issuer.TokenRequests.Should().Be(1);
        var health = await second.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        health.Status.Should().Be(HealthStatus.Healthy);
    }

    private static void Configure(ClientCredentialsOptions o, FakeIssuer issuer)
    {
        o.TokenEndpoint = issuer.TokenEndpoint;
        o.ClientId = "svc";
        o.ClientSecret = "secret";
    }
}
