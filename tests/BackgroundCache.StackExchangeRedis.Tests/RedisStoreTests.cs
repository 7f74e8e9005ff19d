using BackgroundCache.Stores;
using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>The provider-neutral Redis store of pushed tickets and refresh secrets, against a real redis-server.</summary>
[Collection(RedisTests.Name)]
public sealed class RedisStoreTests(RedisFixture redis)
{
    private const string TicketKey = "issuer:app1:ticket";
    private const string Scope = "issuer:app1:accounts";
    private static readonly DateTimeOffset At = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);

    [SkippableFact]
    public async Task Ticket_SharedBetweenInstances_AndNeverReplacedByAnOlderOne()
    {
        var prefix = Prefix();
        await using var first = Build(prefix);
        await using var second = Build(prefix);
        var a = first.GetRequiredService<IPushedTicketStore>();
        var b = second.GetRequiredService<IPushedTicketStore>();

        (await b.GetTicketAsync(TicketKey)).Should().BeNull();
        (await a.SetTicketAsync(TicketKey, new PushedTicket("ticket@@@new", At.AddMinutes(10)))).Should().BeTrue();
        (await b.SetTicketAsync(TicketKey, new PushedTicket("ticket@@@old", At))).Should().BeFalse();

        (await b.GetTicketAsync(TicketKey)).Should().Be(new PushedTicket("ticket@@@new", At.AddMinutes(10)));
        (await a.GetTicketAsync("issuer:other:ticket")).Should().BeNull();
    }

    [SkippableFact]
    public async Task Secrets_SurviveARestart_RemovalComparesTheValue_AndRotationComparesToo()
    {
        var prefix = Prefix();
        await using (var before = Build(prefix))
        {
            var store = before.GetRequiredService<IRefreshSecretStore>();
            await store.SetSecretAsync(Scope, "acct1", new StoredSecret("refresh-1", At));
            await store.SetSecretAsync(Scope, "acct2", new StoredSecret("refresh-2", At, "code:1a2b3c4d"));
            (await store.ReplaceSecretAsync(Scope, "acct2", "refresh-2", "refresh-2b")).Should().BeTrue();
            (await store.ReplaceSecretAsync(Scope, "acct2", "refresh-2", "refresh-2c")).Should().BeFalse("it no longer holds refresh-2");
        }

        await using var after = Build(prefix);
        var restarted = after.GetRequiredService<IRefreshSecretStore>();

        (await restarted.GetKeysAsync(Scope)).Should().BeEquivalentTo("acct1", "acct2");
        (await restarted.GetSecretAsync(Scope, "acct2")).Should().Be(new StoredSecret("refresh-2b", At, "code:1a2b3c4d"));
        (await restarted.RemoveSecretAsync(Scope, "acct2", "refresh-2")).Should().BeFalse("a newer secret was stored");
        (await restarted.RemoveSecretAsync(Scope, "acct2", "refresh-2b")).Should().BeTrue();
        (await restarted.RemoveSecretAsync(Scope, "acct1")).Should().BeTrue();
        (await restarted.GetKeysAsync(Scope)).Should().BeEmpty();
        (await restarted.GetSecretAsync(Scope, "acct1")).Should().Be(new StoredSecret(null, At), "the time of the last change outlives the removal");
    }

    [SkippableFact]
    public async Task Secrets_ChangesAreOrderedByTime_AndARemovalIsRemembered()
    {
        await using var services = Build(Prefix());
        var store = services.GetRequiredService<IRefreshSecretStore>();

        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-1", At))).Should().BeTrue();
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret(null, At.AddMinutes(1)))).Should().BeTrue(); // revoked
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-1", At))).Should().BeFalse("a late repeat of the older authorization");
        (await store.GetKeysAsync(Scope)).Should().BeEmpty();
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-2", At.AddMinutes(2)))).Should().BeTrue(); // authorized again
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret(null, At.AddMinutes(1)))).Should().BeFalse("a late repeat of the older revocation");
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-2", At.AddMinutes(2)))).Should().BeTrue("a change at the same time is applied again");

        (await store.GetSecretAsync(Scope, "acct")).Should().Be(new StoredSecret("refresh-2", At.AddMinutes(2)));
        (await store.GetKeysAsync(Scope)).Should().Equal("acct");
    }

    [SkippableFact]
    public async Task WeChatState_StoredByTheEarlierWeChatOnlyStore_IsReadAfterTheUpgrade()
    {
        // The layout the WeChat-only Redis store wrote: the platforms' refresh tokens must survive the upgrade.
        var prefix = Prefix();
        const string component = "wx0c0mp0nent0000a1";
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.Server.Configuration))
        {
            var db = connection.GetDatabase();
            await db.HashSetAsync($"{prefix}wechat:open:{component}:ticket", [new("value", "ticket@@@old-layout"), new("created", At.ToUnixTimeMilliseconds())]);
            await db.HashSetAsync($"{prefix}wechat:open:{component}:authorizers", "wxauth1", "refresh-old-layout");
        }

        var services = new ServiceCollection();
        services.AddWeChatOpenPlatform("platform", o => o.ComponentAppId = component).UseRedisStore(o =>
        {
            o.Configuration = redis.Server.Configuration;
            o.KeyPrefix = prefix;
        });
        await using var provider = services.BuildServiceProvider();
        var view = provider.GetRequiredService<IWeChatOpenPlatformStore>();

        (await view.GetTicketAsync(component)).Should().Be(new WeChatComponentVerifyTicket("ticket@@@old-layout", At));
        (await view.GetRefreshTokenAsync(component, "wxauth1")).Should().Be("refresh-old-layout");
        (await view.GetAuthorizersAsync(component)).Should().Equal("wxauth1");
    }

    [SkippableFact]
    public async Task Keys_ThousandsAreListed()
    {
        await using var services = Build(Prefix());
        var store = services.GetRequiredService<IRefreshSecretStore>();
        var keys = Enumerable.Range(0, 2500).Select(i => $"wx{i:D16}").ToArray();
        await Task.WhenAll(keys.Select(a => store.SetSecretAsync(Scope, a, new StoredSecret("r-" + a, At)).AsTask()));

        var listed = await store.GetKeysAsync(Scope);

        listed.Order(StringComparer.Ordinal).Should().Equal(keys); // (BeEquivalentTo is quadratic on 2,500 strings)
    }

    [SkippableFact]
    public async Task AddRedisStore_ReplacesTheInMemoryDefault_WhateverTheOrder()
    {
        var services = new ServiceCollection();
        services.AddRedisStore(o => o.Configuration = redis.Server.Configuration);
        services.AddWeChatOpenPlatform("platform", o => o.ComponentAppId = "wx0c0mp0nent0000a1");
        await using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IPushedTicketStore>().GetType().Name.Should().Be("RedisStore");
        provider.GetRequiredService<IRefreshSecretStore>().Should().BeSameAs(provider.GetRequiredService<IPushedTicketStore>());
    }

    [SkippableFact]
    public async Task RedisDown_StoreCallsFailWithARedisError()
    {
        await using var server = await RedisServer.StartAsync();
        await using var services = Build(Prefix(), server.Configuration);
        var store = services.GetRequiredService<IRefreshSecretStore>();
        await store.SetSecretAsync(Scope, "acct1", new StoredSecret("refresh-1", At));

        await server.StopAsync();
        var read = async () => await store.GetSecretAsync(Scope, "acct1");

        await read.Should().ThrowAsync<RedisException>();
    }

    private ServiceProvider Build(string prefix, string? configuration = null)
    {
        var services = new ServiceCollection();
        services.AddRedisStore(o =>
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
