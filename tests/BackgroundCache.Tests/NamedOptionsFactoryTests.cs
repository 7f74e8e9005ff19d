using BackgroundCache.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Tests;

/// <summary>The indexed options factory (issue #21) gives exactly what the runtime's <see cref="OptionsFactory{TOptions}"/> gives.</summary>
public sealed class NamedOptionsFactoryTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("b")]
    [InlineData("")]
    [InlineData("unknown")]
    public void Create_InterleavedNamedAllAndPostConfigure_MatchesTheRuntimeFactory(string name)
    {
        var services = new ServiceCollection();
        services.Configure<RefreshingCacheOptions>("a", o => o.RefreshInterval = TimeSpan.FromMinutes(1));
        services.ConfigureAll<RefreshingCacheOptions>(o => o.RefreshInterval += TimeSpan.FromSeconds(7));
        services.Configure<RefreshingCacheOptions>(o => o.FetchTimeout = TimeSpan.FromSeconds(3));
        services.Configure<RefreshingCacheOptions>("b", o => o.RefreshInterval = TimeSpan.FromMinutes(2));
        services.Configure<RefreshingCacheOptions>("a", o => o.RefreshInterval *= 2);
        services.AddOptions<RefreshingCacheOptions>("b").Configure<IServiceProvider>((o, _) => o.Jitter = TimeSpan.FromSeconds(11));
        services.PostConfigureAll<RefreshingCacheOptions>(o => o.RetryInitialDelay = o.RefreshInterval / 10);
        using var provider = services.BuildServiceProvider();

        var expected = new OptionsFactory<RefreshingCacheOptions>(
            provider.GetServices<IConfigureOptions<RefreshingCacheOptions>>(),
            provider.GetServices<IPostConfigureOptions<RefreshingCacheOptions>>(),
            provider.GetServices<IValidateOptions<RefreshingCacheOptions>>()).Create(name);
        var actual = new NamedOptionsFactory<RefreshingCacheOptions>(
            provider.GetServices<IConfigureOptions<RefreshingCacheOptions>>(),
            provider.GetServices<IPostConfigureOptions<RefreshingCacheOptions>>(),
            provider.GetServices<IValidateOptions<RefreshingCacheOptions>>()).Create(name);

        actual.Should().BeEquivalentTo(expected);
    }
}
