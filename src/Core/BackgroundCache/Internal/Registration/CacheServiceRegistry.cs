using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal;

/// <summary>
/// What this library has registered in one <see cref="IServiceCollection"/>: the services every cache shares (added once)
/// and the (kind, type, name) of each cache and set. It makes each <c>Add…</c> O(1): the first release scanned the whole
/// collection on every call (<c>TryAdd</c>, <c>AddOptions</c>, <c>ValidateOnStart</c>), so 10,000 registrations took ~1.4 s.
/// </summary>
/// <remarks>
/// Kept beside the collection in a <see cref="ConditionalWeakTable{TKey, TValue}"/>: it lives exactly as long as the
/// collection, and two collections (two hosts, two tests) never share one.
/// </remarks>
internal sealed class CacheServiceRegistry
{
    private static readonly ConditionalWeakTable<IServiceCollection, CacheServiceRegistry> Registries = new();
    private readonly HashSet<(string Kind, Type Type, string Name)> _registered = [];
    private int _singleCaches;

    /// <summary>Gets the number of single caches registered so far.</summary>
    public int SingleCacheCount => Volatile.Read(ref _singleCaches);

    /// <summary>Gets the registry of <paramref name="services"/>, adding the shared services the first time.</summary>
    public static CacheServiceRegistry For(IServiceCollection services)
    {
        lock (Registries)
        {
            if (Registries.TryGetValue(services, out var registry))
            {
                return registry;
            }

            registry = new CacheServiceRegistry();
            Registries.Add(services, registry);
            services.AddOptions();
            services.TryAddSingleton(TimeProvider.System);
            services.TryAddSingleton(sp => new CacheMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
            services.TryAddSingleton(_ => new SingleCaches(registry.SingleCacheCount));
            // RefreshingCacheOptions are validated by the caches themselves (at start, and at each reload, keeping the last
            // valid options), not through IValidateOptions: OptionsMonitor would throw inside the configuration reload
            // callback (on a file watcher's thread in a real app) when an operator saves an invalid value.
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RefreshingCacheSetOptions>, RefreshingCacheSetOptionsValidator>());

            // Named options without an O(N) scan per name: N caches start in linear time (issue #21).
            services.TryAddTransient<IOptionsFactory<RefreshingCacheOptions>, NamedOptionsFactory<RefreshingCacheOptions>>();
            services.TryAddTransient<IOptionsFactory<RefreshingCacheSetOptions>, NamedOptionsFactory<RefreshingCacheSetOptions>>();
            return registry;
        }
    }

    /// <summary>Records a registration; a second one of the same (kind, type, name) fails with a message that names it.</summary>
    public void Claim(string kind, Type type, string name, string typeName)
    {
        lock (_registered)
        {
            if (!_registered.Add((kind, type, name)))
            {
                var (which, configure) = name.Length == 0
                    ? ($"The unnamed {kind} of {typeName}", "services.Configure<RefreshingCacheOptions>(o => …)")
                    : ($"A {kind} of {typeName} named '{name}'", $"services.Configure<RefreshingCacheOptions>(\"{name}\", o => …)");
                throw new InvalidOperationException(
                    $"{which} is already registered. Register each {kind} once; use a name for another {kind} " +
                    $"of the same type, and {configure} to tune an existing one.");
            }
        }
    }

    /// <summary>Gives a new single cache its place in <see cref="SingleCaches"/>.</summary>
    public int NextSingleCacheIndex() => Interlocked.Increment(ref _singleCaches) - 1;

    /// <summary>Adds a configure action for named options without the O(n) <c>AddOptions</c> scan.</summary>
    public static void Configure<TOptions>(IServiceCollection services, string name, Action<TOptions>? configure)
        where TOptions : class
    {
        if (configure is not null)
        {
            services.AddSingleton<IConfigureOptions<TOptions>>(new ConfigureNamedOptions<TOptions>(name, configure));
        }
    }
}
