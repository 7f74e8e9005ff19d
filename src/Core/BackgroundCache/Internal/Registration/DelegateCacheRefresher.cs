using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal;

/// <summary>
/// A refresher built from a delegate; each fetch runs in a fresh DI scope so scoped services (a DbContext) work, created
/// the first time the fetch asks for a service (a fetch that resolves nothing costs no container scope, issue #21).
/// </summary>
internal sealed class DelegateCacheRefresher<T>(IServiceScopeFactory scopeFactory, Func<IServiceProvider, CancellationToken, ValueTask<T>> fetch)
    : PeriodicCacheRefresher<T>
{
    protected override async ValueTask<T> FetchAsync(CancellationToken cancellationToken)
    {
        var scope = new Engine.LazyServiceScope(scopeFactory);
        await using (scope.ConfigureAwait(false))
        {
            return await fetch(scope, cancellationToken).ConfigureAwait(false);
        }
    }
}
