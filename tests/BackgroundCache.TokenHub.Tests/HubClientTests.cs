using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>The business-server side (<see cref="TokenHubTokenSource"/>) against the hub's per-client authorization.</summary>
public sealed class HubClientTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _emulator = null!;
    private HubHost _hub = null!;

    public async Task InitializeAsync()
    {
        _emulator = await HubHost.StartEmulatorAsync(_time);
        _hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(_emulator), _time);
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    [Theory]
    [InlineData("key-a", "a", null)]
    [InlineData("key-b2", "b", null)]
    [InlineData("key-a", "b", "does not let this client read 'b'")]
    [InlineData("wrong", "a", "refused the API key")]
    public async Task BusinessServer_ReadsOnlyItsClientsApps(string key, string app, string? error)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddLogging();
        services.AddTokenHubAccessToken(app, o =>
        {
            o.HubAddress = _hub.Address;
            o.ApiKey = key;
        });
        await using var provider = services.BuildServiceProvider();
        var source = provider.GetRequiredKeyedService<TokenHubTokenSource>(app);

        var act = async () => await source.GetTokenAsync(CancellationToken.None);

        if (error is null)
        {
            (await act()).Value.Should().Be(await _hub.TokenAsync(app, "key-all"));
        }
        else
        {
            var thrown = await act.Should().ThrowAsync<TokenHubException>();
            thrown.Which.Message.Should().Contain(error);
            thrown.Which.IsTransient.Should().BeFalse();
        }
    }
}
