using BackgroundCache.Coordination;

namespace BackgroundCache.Internal;

/// <summary>
/// Everything registered for one (key type, value type, name) set; the builder's extensions add to it.
/// </summary>
internal sealed class CacheSetRegistration<TKey, T>(string name, Func<IServiceProvider, Func<IServiceProvider, TKey, CancellationToken, ValueTask<T>>> createFetch)
    where TKey : notnull
{
    public string Name { get; } = name;

    /// <summary>Gets what builds the set's fetch from the root provider (once); the fetch receives a scoped provider.</summary>
    public Func<IServiceProvider, Func<IServiceProvider, TKey, CancellationToken, ValueTask<T>>> CreateFetch { get; } = createFetch;

    public Func<T, DateTimeOffset?>? ExpirySelector { get; set; }

    /// <summary>Gets or sets the keyed token source's renewal rule, set when the fetch is built (null: none declared).</summary>
    public ITokenRenewalRule? RenewalRule { get; set; }

    public Func<IServiceProvider, CancellationToken, ValueTask<IEnumerable<TKey>>>? InitialKeys { get; set; }

    /// <summary>Gets or sets what builds the set's cluster coordinator (the Redis package), or null.</summary>
    public Func<IServiceProvider, ICacheCoordinator<T>>? Coordinator { get; set; }
}
