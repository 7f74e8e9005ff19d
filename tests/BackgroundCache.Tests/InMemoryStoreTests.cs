using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Tests;

/// <summary>The core's in-memory store of pushed tickets and refresh secrets (the Redis one passes the same scenarios).</summary>
public sealed class InMemoryStoreTests
{
    private const string Scope = "issuer:app1:accounts";
    private static readonly DateTimeOffset At = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AddInMemoryStores_OneInstanceServesBoth_AndAnEarlierRegistrationWins()
    {
        var custom = new ServiceCollection().AddInMemoryStores().BuildServiceProvider().GetRequiredService<IRefreshSecretStore>();
        var services = new ServiceCollection();
        services.AddSingleton(custom);
        services.AddInMemoryStores();
        await using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<IRefreshSecretStore>().Should().BeSameAs(custom);
        provider.GetRequiredService<IPushedTicketStore>().Should().NotBeNull();
    }

    [Fact]
    public async Task Ticket_NeverReplacedByAnOlderOne()
    {
        var store = new InMemoryStore();

        (await store.SetTicketAsync("t", new PushedTicket("new", At.AddMinutes(10)))).Should().BeTrue();
        (await store.SetTicketAsync("t", new PushedTicket("old", At))).Should().BeFalse();

        (await store.GetTicketAsync("t")).Should().Be(new PushedTicket("new", At.AddMinutes(10)));
        new PushedTicket("ticket@@@secret", At).ToString().Should().NotContain("ticket@@@secret");
    }

    [Fact]
    public async Task Secrets_ChangesAreOrderedByTime_AndARemovalIsRemembered()
    {
        var store = new InMemoryStore();

        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-1", At))).Should().BeTrue();
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret(null, At.AddMinutes(1)))).Should().BeTrue();
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-1", At))).Should().BeFalse();
        (await store.GetKeysAsync(Scope)).Should().BeEmpty();
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret("refresh-2", At.AddMinutes(2), "code:1"))).Should().BeTrue();
        (await store.SetSecretAsync(Scope, "acct", new StoredSecret(null, At.AddMinutes(1)))).Should().BeFalse();
        (await store.ReplaceSecretAsync(Scope, "acct", "refresh-1", "refresh-x")).Should().BeFalse();
        (await store.ReplaceSecretAsync(Scope, "acct", "refresh-2", "refresh-3")).Should().BeTrue();

        (await store.GetSecretAsync(Scope, "acct")).Should().Be(new StoredSecret("refresh-3", At.AddMinutes(2), "code:1"));
        (await store.RemoveSecretAsync(Scope, "acct", "refresh-2")).Should().BeFalse();
        (await store.RemoveSecretAsync(Scope, "acct", "refresh-3")).Should().BeTrue();
        (await store.GetSecretAsync(Scope, "acct")).Should().Be(new StoredSecret(null, At.AddMinutes(2), "code:1"));
        (await store.GetKeysAsync(Scope)).Should().BeEmpty();
        new StoredSecret("refresh-secret", At).ToString().Should().NotContain("refresh-secret");
    }
}
