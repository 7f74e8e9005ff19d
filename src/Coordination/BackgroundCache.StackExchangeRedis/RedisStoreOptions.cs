using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis;

/// <summary>
/// Settings of the Redis <see cref="BackgroundCache.Stores.IPushedTicketStore"/> and
/// <see cref="BackgroundCache.Stores.IRefreshSecretStore"/>: where pushed tickets and refresh secrets are kept so that
/// every instance sees the pushes that landed on one of them and a restart loses nothing.
/// </summary>
public sealed class RedisStoreOptions
{
    /// <summary>Gets or sets the StackExchange.Redis configuration string, e.g. <c>redis:6379,password=…,ssl=true</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the StackExchange.Redis configuration; preferred over <see cref="Configuration"/> when set.</summary>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>Gets or sets a factory of the connection (e.g. one the application already shares); preferred over both settings above.</summary>
    public Func<Task<IConnectionMultiplexer>>? ConnectionMultiplexerFactory { get; set; }

    /// <summary>Gets or sets the prefix of every key the store writes.</summary>
    /// <value>The default is <c>backgroundcache:</c>.</value>
    public string KeyPrefix { get; set; } = "backgroundcache:";
}
