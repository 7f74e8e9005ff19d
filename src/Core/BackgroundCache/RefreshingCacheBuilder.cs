using BackgroundCache.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache;

/// <summary>
/// Returned by the <c>AddRefreshingCache</c> and <c>AddTokenCache</c> methods; add-on packages extend it with <c>With…</c>
/// and <c>Use…</c> methods that apply to this one cache.
/// </summary>
/// <typeparam name="T">The type of the cached value.</typeparam>
public sealed class RefreshingCacheBuilder<T>
{
    internal RefreshingCacheBuilder(IServiceCollection services, CacheRegistration<T> registration)
    {
        Services = services;
        Registration = registration;
    }

    /// <summary>Gets the service collection the cache is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the cache's name: its service key and the name of its <see cref="RefreshingCacheOptions"/>.</summary>
    public string Name => Registration.Name;

    internal CacheRegistration<T> Registration { get; }
}
