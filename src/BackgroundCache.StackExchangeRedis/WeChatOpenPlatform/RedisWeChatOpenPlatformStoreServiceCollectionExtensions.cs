using BackgroundCache.StackExchangeRedis;
using BackgroundCache.StackExchangeRedis.Internal;
using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Keeps WeChat Open Platform state (the latest <c>component_verify_ticket</c>, every authorizer's refresh token) in Redis, so
/// every instance of a platform sees the pushes that landed on one of them and a restart loses no authorizer.
/// </summary>
public static class RedisWeChatOpenPlatformStoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the Redis <see cref="IWeChatOpenPlatformStore"/> (replacing the in-memory default whether called before or
    /// after <c>AddWeChatOpenPlatform</c>). Refresh tokens are secrets: use a Redis with authentication and TLS that only
    /// the platform's servers reach.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="configure">Configures the connection and the key prefix.</param>
    /// <returns>The <see cref="IServiceCollection"/> so that additional calls can be chained.</returns>
    public static IServiceCollection AddRedisWeChatOpenPlatformStore(this IServiceCollection services, Action<RedisWeChatOpenPlatformStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        services.RemoveAll<IWeChatOpenPlatformStore>();
        services.AddSingleton<IWeChatOpenPlatformStore>(sp => new RedisWeChatOpenPlatformStore(sp));
        return services;
    }

    /// <summary>
    /// Keeps the platform's ticket and refresh tokens in Redis (see
    /// <see cref="AddRedisWeChatOpenPlatformStore(IServiceCollection, Action{RedisWeChatOpenPlatformStoreOptions})"/>); the
    /// store is shared by every platform of the application.
    /// </summary>
    /// <param name="builder">The platform's builder.</param>
    /// <param name="configure">Configures the connection and the key prefix.</param>
    /// <returns>The <paramref name="builder"/> so that additional calls can be chained.</returns>
    public static WeChatOpenPlatformBuilder UseRedisStore(this WeChatOpenPlatformBuilder builder, Action<RedisWeChatOpenPlatformStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddRedisWeChatOpenPlatformStore(configure);
        return builder;
    }
}
