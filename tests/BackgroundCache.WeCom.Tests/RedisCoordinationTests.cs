using BackgroundCache.StackExchangeRedis.Tests;
using BackgroundCache.WeCom.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.WeCom.Tests;

/// <summary>Two hosts sharing a real redis-server on a free port: one gettoken for both, through the builder AddWeComAccessToken returns.</summary>
public sealed class RedisCoordinationTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = WeComHarness.NewClock();
    private readonly List<IHost> _hosts = [];
    private RedisServer? _redis;
    private WeComEmulator _emulator = null!;

    public async Task InitializeAsync() => _emulator = await WeComHarness.StartEmulatorAsync(_time);

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        await _emulator.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task TwoHosts_OneRedis_ShareOneTokenFromOneCall_AndAReportAtEitherReplacesItOnce()
    {
        _redis = await RedisServer.StartAsync();
        var prefix = $"wecom-test:{Guid.NewGuid():N}:";
        var first = await StartHostAsync(prefix);
        var tokenAtFirst = await first.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("hr").GetAsync();
        var second = await StartHostAsync(prefix);
        var secondCache = second.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("hr");
        var tokenAtSecond = await secondCache.GetAsync();

        tokenAtSecond.Value.Should().Be(tokenAtFirst.Value);
        _emulator.GetTokenCalls.Should().Be(1);

        _emulator.InvalidateTokens(WeComHarness.CorpId, WeComHarness.HrSecret);
        var replacement = await secondCache.InvalidateAsync(tokenAtSecond);

        replacement.Value.Should().NotBe(tokenAtFirst.Value);
        _emulator.ValidateAccessToken(replacement.Value, WeComHarness.HrAgentId).Should().Be(0);
        _emulator.GetTokenCalls.Should().Be(2);
    }

    private async Task<IServiceProvider> StartHostAsync(string prefix)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Services.AddWeComAccessToken("hr", o =>
        {
            o.CorpId = WeComHarness.CorpId;
            o.CorpSecret = WeComHarness.HrSecret;
            o.BaseAddress = _emulator.BaseAddress;
        }).UseRedisCoordination(o =>
        {
            o.Configuration = _redis!.Configuration;
            o.KeyPrefix = prefix;
        });
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync();
        return host.Services;
    }
}
