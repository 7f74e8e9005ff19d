using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.WeChat;

/// <summary>
/// Returned by <c>AddWeChatOpenPlatform</c>: the platform's name and the builders of its two caches, so optional parts
/// (health checks, Redis coordination of the component token) chain onto them.
/// </summary>
public sealed class WeChatOpenPlatformBuilder : ITokenCacheGroupBuilder
{
    internal WeChatOpenPlatformBuilder(IServiceCollection services, string name, RefreshingCacheBuilder<AccessToken> componentToken, RefreshingCacheSetBuilder<string, AccessToken> authorizers)
    {
        Services = services;
        Name = name;
        ComponentToken = componentToken;
        Authorizers = authorizers;
    }

    /// <summary>Gets the service collection the platform is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Gets the platform's name: the service key of its caches and the name of its options.</summary>
    public string Name { get; }

    /// <summary>Gets the builder of the component token cache.</summary>
    public RefreshingCacheBuilder<AccessToken> ComponentToken { get; }

    /// <summary>Gets the builder of the authorizer token set.</summary>
    public RefreshingCacheSetBuilder<string, AccessToken> Authorizers { get; }

    /// <inheritdoc/>
    IReadOnlyList<RefreshingCacheBuilder<AccessToken>> ITokenCacheGroupBuilder.TokenCaches => [ComponentToken];

    /// <inheritdoc/>
    IReadOnlyList<RefreshingCacheSetBuilder<string, AccessToken>> ITokenCacheGroupBuilder.TokenSets => [Authorizers];
}
