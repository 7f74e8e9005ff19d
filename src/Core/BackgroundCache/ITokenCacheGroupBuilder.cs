using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache;

/// <summary>
/// Implemented by the builders of registrations that hold several token caches and keep durable state in the
/// <see cref="Stores.IPushedTicketStore"/> and <see cref="Stores.IRefreshSecretStore"/> (a WeChat third-party platform: its
/// component token and its authorizer tokens). Add-on packages (Redis coordination, a shared store) extend every such
/// registration through this interface without knowing the provider.
/// </summary>
public interface ITokenCacheGroupBuilder
{
    /// <summary>Gets the service collection the registration is in.</summary>
    IServiceCollection Services { get; }

    /// <summary>Gets the registration's name.</summary>
    string Name { get; }

    /// <summary>Gets the builders of the registration's single token caches.</summary>
    IReadOnlyList<RefreshingCacheBuilder<AccessToken>> TokenCaches { get; }

    /// <summary>Gets the builders of the registration's token sets (keyed by a string such as an account's id).</summary>
    IReadOnlyList<RefreshingCacheSetBuilder<string, AccessToken>> TokenSets { get; }
}
