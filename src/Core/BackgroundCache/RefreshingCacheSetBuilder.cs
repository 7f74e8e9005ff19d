using BackgroundCache.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache;

/// <summary>
/// Returned by <c>AddRefreshingCacheSet</c> and <c>AddTokenCacheSet</c>; its <c>With…</c> extension methods add optional
/// parts (an expiry selector, a health check, the keys loaded at start) to this one set.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="T">The type of the cached values.</typeparam>
public sealed class RefreshingCacheSetBuilder<TKey, T>
    where TKey : notnull
{
    internal RefreshingCacheSetBuilder(IServiceCollection services, CacheSetRegistration<TKey, T> registration)
    {
        Services = services;
        Registration = registration;
    }

    /// <summary>Gets the service collection the set is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the set's name: its service key and the name of its options.</summary>
    public string Name => Registration.Name;

    internal CacheSetRegistration<TKey, T> Registration { get; }
}
