using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// A fetch's DI scope, created when the fetch first asks it for a service: a set's fetch that resolves nothing (a typed
/// client held by the closure, a static call) costs one small object instead of a container scope created and disposed
/// per refresh (issue #21). It is the scope and its service provider at once, keyed and required lookups included, and
/// disposing it disposes the scope it created, asynchronously when the scope's services need it.
/// </summary>
internal sealed class LazyServiceScope(IServiceScopeFactory factory)
    : IServiceScope, IServiceProvider, IKeyedServiceProvider, ISupportRequiredService, IAsyncDisposable
{
    private IServiceScope? _scope; // null until asked; DisposedScope.Instance once disposed

    /// <summary>Gets a value indicating whether the fetch asked for a service (test hook).</summary>
    public bool WasCreated => Volatile.Read(ref _scope) is { } scope && scope is not DisposedScope;

    /// <inheritdoc />
    public IServiceProvider ServiceProvider => this;

    /// <inheritdoc />
    public object? GetService(Type serviceType) => Provider.GetService(serviceType);

    /// <inheritdoc />
    public object GetRequiredService(Type serviceType) => Provider.GetRequiredService(serviceType);

    /// <inheritdoc />
    public object? GetKeyedService(Type serviceType, object? serviceKey) => KeyedProvider.GetKeyedService(serviceType, serviceKey);

    /// <inheritdoc />
    public object GetRequiredKeyedService(Type serviceType, object? serviceKey) => KeyedProvider.GetRequiredKeyedService(serviceType, serviceKey);

    /// <inheritdoc />
    public void Dispose() => Interlocked.Exchange(ref _scope, DisposedScope.Instance)?.Dispose();

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        var scope = Interlocked.Exchange(ref _scope, DisposedScope.Instance);
        if (scope is IAsyncDisposable asyncScope)
        {
            return asyncScope.DisposeAsync();
        }

        scope?.Dispose();
        return default;
    }

    private IServiceProvider Provider
    {
        get
        {
            var scope = Volatile.Read(ref _scope);
            if (scope is null)
            {
                var created = factory.CreateScope();
                scope = Interlocked.CompareExchange(ref _scope, created, null) ?? created;
                if (!ReferenceEquals(scope, created))
                {
                    created.Dispose(); // another thread's scope won, or this one was disposed meanwhile
                }
            }

            return scope.ServiceProvider;
        }
    }

    private IKeyedServiceProvider KeyedProvider => Provider as IKeyedServiceProvider
        ?? throw new InvalidOperationException("The container behind this cache set does not support keyed services.");

    /// <summary>What a disposed scope answers: <see cref="ObjectDisposedException"/>, as the container's own scope does.</summary>
    private sealed class DisposedScope : IServiceScope
    {
        public static readonly DisposedScope Instance = new();

        public IServiceProvider ServiceProvider => throw new ObjectDisposedException(nameof(IServiceProvider), "The fetch's service scope was disposed when the fetch ended.");

        public void Dispose()
        {
        }
    }
}
