using BackgroundCache.StackExchangeRedis;
using BackgroundCache.WeChat;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Runs a WeChat Open Platform on several instances through Redis.
/// </summary>
public static class WeChatOpenPlatformRedisBuilderExtensions
{
    /// <summary>
    /// Makes the platform safe to run on several instances behind one event URL: its ticket and authorizer refresh tokens
    /// are kept in Redis (<see cref="RedisWeChatOpenPlatformStoreServiceCollectionExtensions.UseRedisStore"/>, same
    /// connection settings and key prefix), and its component token and every authorizer token are refreshed by one
    /// instance at a time and shared (<see cref="RedisCoordinationBuilderExtensions.UseRedisCoordination{T}"/> on the
    /// component token, and on the authorizer set: an authorizer added or removed on one instance is added or removed on
    /// all, and only the set's leader spends authorizer refresh tokens).
    /// </summary>
    /// <param name="builder">The platform's builder.</param>
    /// <param name="configure">Configures the connection, key prefix and lease (the outage settings apply to the component token).</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static WeChatOpenPlatformBuilder UseRedisCoordination(this WeChatOpenPlatformBuilder builder, Action<RedisCoordinationOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.ComponentToken.UseRedisCoordination(configure);
        builder.Authorizers.UseRedisCoordination(configure);
        builder.UseRedisStore(store =>
        {
            var coordination = new RedisCoordinationOptions();
            configure(coordination);
            store.Configuration = coordination.Configuration;
            store.ConfigurationOptions = coordination.ConfigurationOptions;
            store.ConnectionMultiplexerFactory = coordination.ConnectionMultiplexerFactory;
            store.KeyPrefix = coordination.KeyPrefix;
        });
        return builder;
    }
}
