using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using BackgroundCache;
using BackgroundCache.Internal;
using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers refreshing cache sets: many values of one kind, one per key, added and removed at run time, driven by one
/// scheduler with one timer and a fetch budget. Read a set as the keyed <see cref="IRefreshingCacheSet{TKey, T}"/>.
/// </summary>
public static class RefreshingCacheSetServiceCollectionExtensions
{
    /// <summary>
    /// Registers a refreshing cache set named <paramref name="name"/>, fed by a delegate that runs in its own DI scope for
    /// each fetch. Read it as the keyed service <see cref="IRefreshingCacheSet{TKey, T}"/> with key <paramref name="name"/>.
    /// Each key's schedule, retries and expiry come from the <see cref="RefreshingCacheOptions"/> named
    /// <paramref name="name"/>; the set's fetch budget and idle eviction from the <see cref="RefreshingCacheSetOptions"/> of
    /// the same name.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The set's name.</param>
    /// <param name="fetch">Fetches the value of one key; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <param name="configure">Configures the set's <see cref="RefreshingCacheSetOptions"/>.</param>
    /// <returns>A builder for optional parts of this set.</returns>
    [OverloadResolutionPriority(1)] // an async lambda fits both overloads: it binds here, as before the Task<T> overloads existed
    public static RefreshingCacheSetBuilder<TKey, T> AddRefreshingCacheSet<TKey, T>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, TKey, CancellationToken, ValueTask<T>> fetch,
        Action<RefreshingCacheSetOptions>? configure = null)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(fetch);
        return services.AddCacheSetCore<TKey, T>(name, _ => fetch, configure);
    }

    /// <summary>
    /// Registers a refreshing cache set named <paramref name="name"/>, fed by a <see cref="Task{TResult}"/>-returning
    /// delegate or method group (an <c>async</c> lambda binds here) that runs in its own DI scope for each fetch.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="T">The type of the cached values.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The set's name.</param>
    /// <param name="fetch">Fetches the value of one key; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <param name="configure">Configures the set's <see cref="RefreshingCacheSetOptions"/>.</param>
    /// <returns>A builder for optional parts of this set.</returns>
    public static RefreshingCacheSetBuilder<TKey, T> AddRefreshingCacheSet<TKey, T>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, TKey, CancellationToken, Task<T>> fetch,
        Action<RefreshingCacheSetOptions>? configure = null)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(fetch);
        return services.AddRefreshingCacheSet<TKey, T>(name, (sp, key, ct) => new ValueTask<T>(fetch(sp, key, ct)), configure);
    }

    /// <summary>
    /// Registers a token cache set named <paramref name="name"/>, one <see cref="AccessToken"/> per key, fed by
    /// <typeparamref name="TSource"/>. The source is the keyed <typeparamref name="TSource"/> registered under
    /// <paramref name="name"/> if any, else the unkeyed one, else built by DI (once). Each token is refreshed
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead of its expiry and never returned once expired.
    /// </summary>
    /// <typeparam name="TKey">The key type.</typeparam>
    /// <typeparam name="TSource">The keyed token source.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The set's name.</param>
    /// <param name="configure">Configures the set's <see cref="RefreshingCacheSetOptions"/>.</param>
    /// <returns>A builder for optional parts of this set.</returns>
    public static RefreshingCacheSetBuilder<TKey, AccessToken> AddTokenCacheSet<TKey, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TSource>(
        this IServiceCollection services,
        string name,
        Action<RefreshingCacheSetOptions>? configure = null)
        where TKey : notnull
        where TSource : class, IKeyedTokenSource<TKey>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        RefreshingCacheSetBuilder<TKey, AccessToken>? builder = null;
        builder = services.AddCacheSetCore<TKey, AccessToken>(
            name,
            root =>
            {
                var source = root.GetKeyedService<TSource>(name) ?? root.GetService<TSource>() ?? ActivatorUtilities.CreateInstance<TSource>(root);
                builder!.Registration.RenewalRule = source as ITokenRenewalRule;
                return (_, key, ct) => source.GetTokenAsync(key, ct);
            },
            configure);
        return builder;
    }

    internal static RefreshingCacheSetBuilder<TKey, T> AddCacheSetCore<TKey, T>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, Func<IServiceProvider, TKey, CancellationToken, ValueTask<T>>> createFetch,
        Action<RefreshingCacheSetOptions>? configure)
        where TKey : notnull
    {
        var registry = CacheServiceRegistry.For(services);
        registry.Claim("refreshing cache set", typeof(IRefreshingCacheSet<TKey, T>), name, $"{typeof(T).Name} by {typeof(TKey).Name}");
        CacheServiceRegistry.Configure(services, name, configure);

        var registration = new CacheSetRegistration<TKey, T>(name, createFetch);
        services.AddKeyedSingleton(name, (sp, _) => new RefreshingCacheSet<TKey, T>(
            registration,
            sp,
            sp.GetRequiredService<IOptionsMonitor<RefreshingCacheOptions>>(),
            sp.GetRequiredService<IOptionsMonitor<RefreshingCacheSetOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger(BackgroundCacheDiagnostics.CacheSetLogCategory),
            sp.GetRequiredService<CacheMetrics>()));
        services.AddKeyedSingleton<IRefreshingCacheSet<TKey, T>>(name, (sp, key) => sp.GetRequiredKeyedService<RefreshingCacheSet<TKey, T>>(key));
        if (name.Length == 0)
        {
            services.AddSingleton<IRefreshingCacheSet<TKey, T>>(sp => sp.GetRequiredKeyedService<RefreshingCacheSet<TKey, T>>(name));
        }

        services.AddSingleton<IHostedService>(sp => sp.GetRequiredKeyedService<RefreshingCacheSet<TKey, T>>(name));
        return new RefreshingCacheSetBuilder<TKey, T>(services, registration);
    }
}
