using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Internal;

/// <summary>
/// A refresher built from a delegate; each fetch runs in a fresh DI scope so scoped services (a DbContext) work.
/// </summary>
internal sealed class DelegateCacheRefresher<T>(IServiceScopeFactory scopeFactory, Func<IServiceProvider, CancellationToken, ValueTask<T>> fetch)
    : PeriodicCacheRefresher<T>
{
    protected override async ValueTask<T> FetchAsync(CancellationToken cancellationToken)
    {
        var scope = scopeFactory.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            return await fetch(scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
        }
    }
}
