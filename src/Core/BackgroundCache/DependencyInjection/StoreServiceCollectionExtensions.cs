using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the durable stores of pushed tickets and refresh secrets (<see cref="IPushedTicketStore"/>,
/// <see cref="IRefreshSecretStore"/>) that providers with pushed tickets use.
/// </summary>
public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the in-memory <see cref="IPushedTicketStore"/> and <see cref="IRefreshSecretStore"/> unless stores are
    /// already registered (one instance serves both). Lost on restart and not shared between instances: use a durable,
    /// shared store (Redis, a database) in production. Providers call this themselves.
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <returns>The <see cref="IServiceCollection"/> so that additional calls can be chained.</returns>
    public static IServiceCollection AddInMemoryStores(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<InMemoryStore>();
        services.TryAddSingleton<IPushedTicketStore>(sp => sp.GetRequiredService<InMemoryStore>());
        services.TryAddSingleton<IRefreshSecretStore>(sp => sp.GetRequiredService<InMemoryStore>());
        return services;
    }
}
