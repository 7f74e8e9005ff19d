using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Tests;

[Collection(RedisTests.Name)]
public sealed class RedisWeChatOpenPlatformStoreTests(RedisFixture redis)
{
    private const string Component = "wx0c0mp0nent0000a1";
    private static readonly DateTimeOffset At = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);

    [SkippableFact]
    public async Task Ticket_SharedBetweenInstances_AndNeverReplacedByAnOlderOne()
    {
        var prefix = Prefix();
        await using var first = Build(prefix);
        await using var second = Build(prefix);
        var a = first.GetRequiredService<IWeChatOpenPlatformStore>();
        var b = second.GetRequiredService<IWeChatOpenPlatformStore>();

        (await b.GetTicketAsync(Component)).Should().BeNull();
        (await a.SetTicketAsync(Component, new WeChatComponentVerifyTicket("ticket@@@new", At.AddMinutes(10)))).Should().BeTrue();
        (await b.SetTicketAsync(Component, new WeChatComponentVerifyTicket("ticket@@@old", At))).Should().BeFalse();

        (await b.GetTicketAsync(Component)).Should().Be(new WeChatComponentVerifyTicket("ticket@@@new", At.AddMinutes(10)));
        (await a.GetTicketAsync("wxotherplatform0001")).Should().BeNull();
    }

    [SkippableFact]
    public async Task RefreshTokens_SurviveARestartOfTheProcess_AndRemovalComparesTheToken()
    {
        var prefix = Prefix();
        await using (var before = Build(prefix))
        {
            var store = before.GetRequiredService<IWeChatOpenPlatformStore>();
            await store.SetRefreshTokenAsync(Component, "wxauth1", "refresh-1");
            await store.SetRefreshTokenAsync(Component, "wxauth2", "refresh-2");
            await store.SetRefreshTokenAsync(Component, "wxauth2", "refresh-2b");
        }

        await using var after = Build(prefix);
        var restarted = after.GetRequiredService<IWeChatOpenPlatformStore>();

        (await restarted.GetAuthorizersAsync(Component)).Should().BeEquivalentTo("wxauth1", "wxauth2");
        (await restarted.GetRefreshTokenAsync(Component, "wxauth2")).Should().Be("refresh-2b");
        (await restarted.RemoveAuthorizerAsync(Component, "wxauth2", "refresh-2")).Should().BeFalse("a newer refresh token was stored");
        (await restarted.GetRefreshTokenAsync(Component, "wxauth2")).Should().Be("refresh-2b");
        (await restarted.RemoveAuthorizerAsync(Component, "wxauth2", "refresh-2b")).Should().BeTrue();
        (await restarted.RemoveAuthorizerAsync(Component, "wxauth1")).Should().BeTrue();
        (await restarted.GetAuthorizersAsync(Component)).Should().BeEmpty();
        (await restarted.GetRefreshTokenAsync(Component, "wxauth1")).Should().BeNull();
    }

    [SkippableFact]
    public async Task Authorizers_ThousandsAreListed()
    {
        var prefix = Prefix();
        await using var services = Build(prefix);
        var store = services.GetRequiredService<IWeChatOpenPlatformStore>();
        var appIds = Enumerable.Range(0, 2500).Select(i => $"wx{i:D16}").ToArray();
        await Task.WhenAll(appIds.Select(a => store.SetRefreshTokenAsync(Component, a, "r-" + a).AsTask()));

        var listed = await store.GetAuthorizersAsync(Component);

        listed.Order(StringComparer.Ordinal).Should().Equal(appIds); // (BeEquivalentTo is quadratic on 2,500 strings)
    }

    [SkippableFact]
    public async Task AddRedisStore_ReplacesTheInMemoryDefault_WhateverTheOrder()
    {
        var services = new ServiceCollection();
        services.AddRedisWeChatOpenPlatformStore(o => o.Configuration = redis.Server.Configuration);
        services.AddWeChatOpenPlatform("platform", o => o.ComponentAppId = Component);
        await using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IWeChatOpenPlatformStore>().GetType().Name.Should().Be("RedisWeChatOpenPlatformStore");
    }

    [SkippableFact]
    public async Task RedisDown_StoreCallsFailWithARedisError()
    {
        await using var server = await RedisServer.StartAsync();
        await using var services = Build(Prefix(), server.Configuration);
        var store = services.GetRequiredService<IWeChatOpenPlatformStore>();
        await store.SetRefreshTokenAsync(Component, "wxauth1", "refresh-1");

        await server.StopAsync();
        var read = async () => await store.GetRefreshTokenAsync(Component, "wxauth1");

        await read.Should().ThrowAsync<RedisException>();
    }

    private ServiceProvider Build(string prefix, string? configuration = null)
    {
        var services = new ServiceCollection();
        services.AddWeChatOpenPlatform("platform", o => o.ComponentAppId = Component)
            .UseRedisStore(o =>
            {
                o.ConfigurationOptions = ConfigurationOptions.Parse(configuration ?? redis.Server.Configuration);
                o.ConfigurationOptions.ConnectTimeout = 2000;
                o.ConfigurationOptions.SyncTimeout = 2000;
                o.ConfigurationOptions.AsyncTimeout = 2000;
                o.KeyPrefix = prefix;
            });
        return services.BuildServiceProvider();
    }

    private static string Prefix() => $"test:{Guid.NewGuid():N}:";
}
