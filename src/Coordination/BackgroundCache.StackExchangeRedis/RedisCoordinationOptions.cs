using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis;

/// <summary>
/// Settings of Redis coordination for one cache. The connection settings are Microsoft's Redis trio
/// (<see cref="Configuration"/>, <see cref="ConfigurationOptions"/>, <see cref="ConnectionMultiplexerFactory"/>);
/// an <see cref="IConnectionMultiplexer"/> registered in DI is used when none of them is set.
/// </summary>
public sealed class RedisCoordinationOptions
{
    /// <summary>Gets or sets the Redis connection string, e.g. <c>localhost:6379</c>.</summary>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets the Redis connection options; preferred over <see cref="Configuration"/>.</summary>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>Gets or sets a factory of the connection; preferred over both settings above.</summary>
    public Func<Task<IConnectionMultiplexer>>? ConnectionMultiplexerFactory { get; set; }

    /// <summary>Gets or sets the prefix of every key and channel.</summary>
    /// <value>The default is <c>backgroundcache:</c>.</value>
    public string KeyPrefix { get; set; } = "backgroundcache:";

    /// <summary>
    /// Gets or sets how long the leader lease lasts without renewal (measured by Redis, in real time). The leader renews
    /// it every third of this; after a crash, another instance takes over within it.
    /// </summary>
    /// <value>The default is 15 seconds.</value>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Gets or sets how often every instance re-reads the shared value, in case a change notification was lost.
    /// </summary>
    /// <value>The default is 1 minute.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets what an instance does when its value is due for refresh and Redis cannot be reached.</summary>
    /// <value>The default is <see cref="RedisOutageBehavior.RefreshOnlyToAvoidExpiry"/>.</value>
    public RedisOutageBehavior OutageBehavior { get; set; } = RedisOutageBehavior.RefreshOnlyToAvoidExpiry;

    /// <summary>
    /// Gets or sets, for <see cref="RedisOutageBehavior.RefreshOnlyToAvoidExpiry"/>, how close to its expiry the value must
    /// be before an instance calls the upstream on its own.
    /// </summary>
    /// <value>The default is 2 minutes.</value>
    public TimeSpan OutageRefreshMargin { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// What an instance does when its value is due for refresh and Redis cannot be reached.
/// </summary>
public enum RedisOutageBehavior
{
    /// <summary>
    /// Keep serving the current value and call the upstream locally only when the value would otherwise expire (or none
    /// exists). The safe choice for WeChat's classic token, where every call invalidates the other instances' token.
    /// </summary>
    RefreshOnlyToAvoidExpiry,

    /// <summary>Call the upstream locally, as if uncoordinated (for upstreams where extra calls are harmless).</summary>
    RefreshLocally,

    /// <summary>Never call the upstream without Redis; serve the value until it expires.</summary>
    NeverRefreshLocally,
}
