using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Feishu;

/// <summary>
/// Returned by <c>AddFeishuStoreApp</c>: the app's name and the builders of its two caches, so optional parts (health
/// checks, Redis coordination) chain onto them.
/// </summary>
public sealed class FeishuStoreAppBuilder : ITokenCacheGroupBuilder
{
    internal FeishuStoreAppBuilder(IServiceCollection services, string name, RefreshingCacheBuilder<AccessToken> appAccessToken, RefreshingCacheSetBuilder<string, AccessToken> tenants)
    {
        Services = services;
        Name = name;
        AppAccessToken = appAccessToken;
        Tenants = tenants;
    }

    /// <summary>Gets the service collection the app is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the app's name: the service key of its caches and the name of its options.</summary>
    public string Name { get; }

    /// <summary>Gets the builder of the <c>app_access_token</c> cache.</summary>
    public RefreshingCacheBuilder<AccessToken> AppAccessToken { get; }

    /// <summary>Gets the builder of the tenant token set (keyed by <c>tenant_key</c>).</summary>
    public RefreshingCacheSetBuilder<string, AccessToken> Tenants { get; }

    /// <inheritdoc/>
    IReadOnlyList<RefreshingCacheBuilder<AccessToken>> ITokenCacheGroupBuilder.TokenCaches => [AppAccessToken];

    /// <inheritdoc/>
    IReadOnlyList<RefreshingCacheSetBuilder<string, AccessToken>> ITokenCacheGroupBuilder.TokenSets => [Tenants];
}
