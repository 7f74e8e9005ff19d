using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.WeCom;

/// <summary>
/// Configures a WeCom suite registered by <c>AddWeComSuite</c>: its <c>suite_access_token</c> cache and the set of
/// authorized corps' access tokens (keyed by CorpId). Coordinate both across instances with <c>UseRedisCoordination</c>.
/// </summary>
public sealed class WeComSuiteBuilder : ITokenCacheGroupBuilder
{
    internal WeComSuiteBuilder(IServiceCollection services, string name, RefreshingCacheBuilder<AccessToken> suiteToken, RefreshingCacheSetBuilder<string, AccessToken> corps)
    {
        Services = services;
        Name = name;
        SuiteToken = suiteToken;
        Corps = corps;
    }

    /// <inheritdoc />
    public IServiceCollection Services { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Gets the builder of the <c>suite_access_token</c> cache (keyed service <see cref="IRefreshingCache{T}"/> of the suite's name).</summary>
    public RefreshingCacheBuilder<AccessToken> SuiteToken { get; }

    /// <summary>Gets the builder of the authorized corps' token set (keyed service <see cref="IRefreshingCacheSet{TKey, T}"/> of the suite's name).</summary>
    public RefreshingCacheSetBuilder<string, AccessToken> Corps { get; }

    IReadOnlyList<RefreshingCacheBuilder<AccessToken>> ITokenCacheGroupBuilder.TokenCaches => [SuiteToken];

    IReadOnlyList<RefreshingCacheSetBuilder<string, AccessToken>> ITokenCacheGroupBuilder.TokenSets => [Corps];
}
