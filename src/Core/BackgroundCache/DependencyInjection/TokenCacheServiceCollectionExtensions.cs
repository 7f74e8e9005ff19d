using System.Diagnostics.CodeAnalysis;
using BackgroundCache;
using BackgroundCache.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers token caches: a refreshing cache of <see cref="AccessToken"/> per name, fed by an <see cref="ITokenSource"/>.
/// </summary>
public static class TokenCacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers a token cache named <paramref name="name"/> fed by <typeparamref name="TSource"/>. The source is the keyed
    /// <typeparamref name="TSource"/> registered under <paramref name="name"/> if any, else the unkeyed one, else built by DI.
    /// Read the token as the keyed <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/>; tune it with the
    /// <see cref="RefreshingCacheOptions"/> of the same name. The refresh is scheduled
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead of <see cref="AccessToken.ExpiresAt"/>, and an expired
    /// token is never returned.
    /// </summary>
    /// <typeparam name="TSource">The token source.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddTokenCache<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TSource>(
        this IServiceCollection services,
        string name,
        Action<RefreshingCacheOptions>? configure = null)
        where TSource : class, ITokenSource
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        return services.AddTokenCache(
            name,
            sp => sp.GetKeyedService<TSource>(name) ?? sp.GetService<TSource>() ?? ActivatorUtilities.CreateInstance<TSource>(sp),
            configure);
    }

    /// <summary>
    /// Registers a token cache named <paramref name="name"/> fed by the token source that <paramref name="createSource"/> builds.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="createSource">Builds the token source (once, when the cache is first resolved).</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    public static RefreshingCacheBuilder<AccessToken> AddTokenCache(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, ITokenSource> createSource,
        Action<RefreshingCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(createSource);
        return services.AddCacheCore<AccessToken>(
            name,
            static (sp, state) => new TokenSourceRefresher(((Func<IServiceProvider, ITokenSource>)state!)(sp)),
            createSource,
            configure);
    }
}
