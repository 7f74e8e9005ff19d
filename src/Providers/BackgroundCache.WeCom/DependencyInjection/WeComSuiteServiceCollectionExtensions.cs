using BackgroundCache;
using BackgroundCache.WeCom;
using BackgroundCache.WeCom.Internal;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers WeCom third-party apps (ISV suites): suite token, permanent codes and the corps' token set.</summary>
public static class WeComSuiteServiceCollectionExtensions
{
    /// <summary>
    /// Registers the WeCom suite <paramref name="name"/> with settings from a configuration section (<c>SuiteId</c>,
    /// <c>SuiteSecret</c>, <c>Token</c>, <c>EncodingAESKey</c>, <c>BaseAddress</c>, <c>HttpClientName</c>).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The suite's name: the key of its <see cref="WeComSuite"/>, suite token cache and corp token set.</param>
    /// <param name="configuration">The section that binds to <see cref="WeComSuiteOptions"/>.</param>
    /// <returns>The suite's builder.</returns>
    public static WeComSuiteBuilder AddWeComSuite(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WeComSuiteOptions>(name).Bind(configuration);
        return services.AddWeComSuiteCore(name);
    }

    /// <summary>
    /// Registers the WeCom suite <paramref name="name"/>: a <c>suite_access_token</c> cache fed by the pushed
    /// <c>suite_ticket</c> (<see cref="BackgroundCache.Stores.IPushedTicketStore"/>), the permanent codes of authorized corps
    /// (<see cref="BackgroundCache.Stores.IRefreshSecretStore"/>; in memory unless a durable store such as Redis is
    /// registered), and the corps' access tokens as a set keyed by CorpId. Map its instruction URL with
    /// <c>MapWeComSuiteEvents</c> (package BackgroundCache.WeCom.AspNetCore).
    /// </summary>
    /// <param name="services">The <see cref="IServiceCollection"/> to add services to.</param>
    /// <param name="name">The suite's name: the key of its <see cref="WeComSuite"/>, suite token cache and corp token set.</param>
    /// <param name="configure">Configures the suite's <see cref="WeComSuiteOptions"/>.</param>
    /// <returns>The suite's builder.</returns>
    public static WeComSuiteBuilder AddWeComSuite(this IServiceCollection services, string name, Action<WeComSuiteOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<WeComSuiteOptions>(name).Configure(configure);
        return services.AddWeComSuiteCore(name);
    }

    /// <summary>Adds health checks for the suite token and the corp token set.</summary>
    /// <param name="builder">The suite's builder.</param>
    /// <param name="failureStatus">The status to report when unhealthy; the default is <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for the checks.</param>
    /// <returns>The <paramref name="builder"/>.</returns>
    public static WeComSuiteBuilder WithHealthCheck(this WeComSuiteBuilder builder, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var list = tags?.ToArray();
        builder.SuiteToken.WithHealthCheck($"wecom-suite:{builder.Name}:suite", failureStatus, list);
        builder.Corps.WithHealthCheck($"wecom-suite:{builder.Name}:corps", failureStatus, list);
        return builder;
    }

    private static WeComSuiteBuilder AddWeComSuiteCore(this IServiceCollection services, string name)
    {
        services.AddWeComCommon();
        services.AddOptions<WeComSuiteOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WeComSuiteOptions>, WeComSuiteOptionsValidator>());
        services.AddInMemoryStores();
        services.TryAddKeyedSingleton(name, (sp, _) => new WeComSuiteApi(name, sp));
        services.TryAddKeyedSingleton(name, (sp, _) => new WeComCorpTokenSource(sp.GetRequiredKeyedService<WeComSuiteApi>(name)));
        services.TryAddKeyedSingleton(name, (sp, _) => new WeComSuite(sp.GetRequiredKeyedService<WeComSuiteApi>(name)));
        var suite = services.AddTokenCache(name, sp => new WeComSuiteTokenSource(sp.GetRequiredKeyedService<WeComSuiteApi>(name)));
        var corps = services.AddTokenCacheSet<string, WeComCorpTokenSource>(name)
            .WithInitialKeys(async (sp, ct) =>
            {
                var api = sp.GetRequiredKeyedService<WeComSuiteApi>(name);
                return await api.Secrets.GetKeysAsync(api.PermanentCodesScope, ct).ConfigureAwait(false);
            });
        return new WeComSuiteBuilder(services, name, suite, corps);
    }
}
