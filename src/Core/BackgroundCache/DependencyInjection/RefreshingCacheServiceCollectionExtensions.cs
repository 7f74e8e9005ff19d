using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using BackgroundCache;
using BackgroundCache.Internal;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers refreshing caches: a background refresher per value, read through <see cref="IRefreshingCache{T}"/>.
/// </summary>
public static class RefreshingCacheServiceCollectionExtensions
{
    /// <summary>
    /// Registers the unnamed refreshing cache of <typeparamref name="T"/>, fed by a delegate that runs in its own DI scope.
    /// Read it as <see cref="IRefreshingCache{T}"/>.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="fetch">Fetches a new value; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    [OverloadResolutionPriority(1)] // an async lambda fits both overloads: it binds here, as before the Task<T> overloads existed
    public static RefreshingCacheBuilder<T> AddRefreshingCache<T>(
        this IServiceCollection services,
        Func<IServiceProvider, CancellationToken, ValueTask<T>> fetch,
        Action<RefreshingCacheOptions>? configure = null)
        => services.AddRefreshingCache(Options.Options.DefaultName, fetch, configure);

    /// <summary>
    /// Registers a named refreshing cache of <typeparamref name="T"/>, fed by a delegate that runs in its own DI scope.
    /// Read it as the keyed service <see cref="IRefreshingCache{T}"/> with key <paramref name="name"/>; its settings are the
    /// <see cref="RefreshingCacheOptions"/> named <paramref name="name"/>.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="fetch">Fetches a new value; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    [OverloadResolutionPriority(1)] // an async lambda fits both overloads: it binds here, as before the Task<T> overloads existed
    public static RefreshingCacheBuilder<T> AddRefreshingCache<T>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, CancellationToken, ValueTask<T>> fetch,
        Action<RefreshingCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(fetch);
        return services.AddCacheCore<T>(
            name,
            static (sp, state) => new DelegateCacheRefresher<T>(sp.GetRequiredService<IServiceScopeFactory>(), (Func<IServiceProvider, CancellationToken, ValueTask<T>>)state!),
            fetch,
            configure);
    }

    /// <summary>
    /// Registers the unnamed refreshing cache of <typeparamref name="T"/>, fed by a <see cref="Task{TResult}"/>-returning
    /// delegate or method group (an <c>async</c> lambda binds here) that runs in its own DI scope.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="fetch">Fetches a new value; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    public static RefreshingCacheBuilder<T> AddRefreshingCache<T>(
        this IServiceCollection services,
        Func<IServiceProvider, CancellationToken, Task<T>> fetch,
        Action<RefreshingCacheOptions>? configure = null)
        => services.AddRefreshingCache(Options.Options.DefaultName, fetch, configure);

    /// <summary>
    /// Registers a named refreshing cache of <typeparamref name="T"/>, fed by a <see cref="Task{TResult}"/>-returning
    /// delegate or method group (an <c>async</c> lambda binds here) that runs in its own DI scope. Read it as the keyed
    /// service <see cref="IRefreshingCache{T}"/> with key <paramref name="name"/>.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="fetch">Fetches a new value; receives a scoped <see cref="IServiceProvider"/>.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    public static RefreshingCacheBuilder<T> AddRefreshingCache<T>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, CancellationToken, Task<T>> fetch,
        Action<RefreshingCacheOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(fetch);
        return services.AddRefreshingCache<T>(name, (sp, ct) => new ValueTask<T>(fetch(sp, ct)), configure);
    }

    /// <summary>
    /// Registers the unnamed refreshing cache of <typeparamref name="T"/>, fed by a <see cref="PeriodicCacheRefresher{T}"/>
    /// subclass built by DI. Read it as <see cref="IRefreshingCache{T}"/> (or as <typeparamref name="TRefresher"/>).
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <typeparam name="TRefresher">The refresher; its constructor dependencies come from DI.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    public static RefreshingCacheBuilder<T> AddRefreshingCache<T, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TRefresher>(
        this IServiceCollection services,
        Action<RefreshingCacheOptions>? configure = null)
        where TRefresher : PeriodicCacheRefresher<T>
        => services.AddRefreshingCache<T, TRefresher>(Options.Options.DefaultName, configure);

    /// <summary>
    /// Registers a named refreshing cache of <typeparamref name="T"/>, fed by a <see cref="PeriodicCacheRefresher{T}"/>
    /// subclass built by DI. Read it as the keyed service <see cref="IRefreshingCache{T}"/> with key <paramref name="name"/>.
    /// </summary>
    /// <typeparam name="T">The type of the cached value.</typeparam>
    /// <typeparam name="TRefresher">The refresher; its constructor dependencies come from DI.</typeparam>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The cache's name.</param>
    /// <param name="configure">Configures the cache's <see cref="RefreshingCacheOptions"/>.</param>
    /// <returns>A builder for optional parts of this cache.</returns>
    public static RefreshingCacheBuilder<T> AddRefreshingCache<T, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TRefresher>(
        this IServiceCollection services,
        string name,
        Action<RefreshingCacheOptions>? configure = null)
        where TRefresher : PeriodicCacheRefresher<T>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        var builder = services.AddCacheCore<T>(name, static (sp, _) => ActivatorUtilities.CreateInstance<TRefresher>(sp), state: null, configure);
        var registration = builder.Registration;
        if (name.Length == 0)
        {
            services.AddSingleton(sp => (TRefresher)Cache(sp, registration));
        }
        else
        {
            services.AddKeyedSingleton(name, (sp, _) => (TRefresher)Cache(sp, registration));
        }

        return builder;
    }

    /// <summary>
    /// Registers one cache in O(1): the services every cache shares are added once per collection
    /// (<see cref="CacheServiceRegistry"/>), and the options are validated when the cache starts. Registering the same
    /// cache (type and name) twice throws, naming it.
    /// </summary>
    internal static RefreshingCacheBuilder<T> AddCacheCore<T>(
        this IServiceCollection services,
        string name,
        Func<IServiceProvider, object?, PeriodicCacheRefresher<T>> createRefresher,
        object? state,
        Action<RefreshingCacheOptions>? configure)
    {
        var registry = CacheServiceRegistry.For(services);
        registry.Claim("refreshing cache", typeof(T), name, typeof(T).Name);
        CacheServiceRegistry.Configure(services, name, configure);

        var registration = new CacheRegistration<T>(name, registry.NextSingleCacheIndex(), createRefresher, state);

        // Every way to the cache goes through the provider's table of single caches, not through another keyed lookup:
        // the hosted services of N caches start without N keyed lookups, which grow worse than linearly (issue #21). The
        // factories are the registration's own methods: no closure per cache.
        services.AddKeyedSingleton<PeriodicCacheRefresher<T>>(name, registration.ResolveKeyed);
        services.AddKeyedSingleton<IRefreshingCache<T>>(name, registration.ResolveKeyed);
        if (name.Length == 0)
        {
            services.AddSingleton<IRefreshingCache<T>>(registration.Resolve);
        }

        services.AddSingleton<IHostedService>(registration.Resolve);
        return new RefreshingCacheBuilder<T>(services, registration);
    }

    /// <summary>The cache of <paramref name="registration"/> in the provider <paramref name="services"/>, created once.</summary>
    internal static PeriodicCacheRefresher<T> Cache<T>(IServiceProvider services, CacheRegistration<T> registration) =>
        services.GetRequiredService<SingleCaches>().GetOrCreate(registration, services, CreateRefresher);

    private static PeriodicCacheRefresher<T> CreateRefresher<T>(IServiceProvider services, CacheRegistration<T> registration)
    {
        var refresher = registration.CreateRefresher(services);
        var loggerFactory = services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
        var observers = registration.Observers is { } creates ? creates.Select(create => create(services)).ToArray() : [];
        refresher.Initialize(new PeriodicCacheRefresher<T>.CacheRuntime(
            registration.Name,
            services.GetRequiredService<IOptionsMonitor<RefreshingCacheOptions>>(),
            services.GetRequiredService<TimeProvider>(),
            loggerFactory.CreateLogger(BackgroundCacheDiagnostics.CacheLogCategory), // the cache's name is in every message
            services.GetRequiredService<CacheMetrics>(),
            registration.ExpirySelector,
            observers,
            registration.Coordinator?.Invoke(services)));
        return refresher;
    }
}
