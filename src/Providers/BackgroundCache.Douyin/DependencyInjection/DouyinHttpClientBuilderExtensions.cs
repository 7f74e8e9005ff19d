using BackgroundCache;
using BackgroundCache.Douyin.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Attaches Douyin client tokens to the requests of an <see cref="HttpClient"/> from <c>IHttpClientFactory</c>.</summary>
public static class DouyinHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds the Douyin client_token named <paramref name="name"/> to each request as the <c>access-token</c> header. When
    /// Douyin answers that the token is invalid or expired (10008, 2190002, 2190008, 28001003, 28001008), the token is
    /// reported (one refresh for every caller that saw it) and the request is sent once more with the replacement; a second
    /// failure is returned as it is.
    /// </summary>
    /// <param name="builder">The <see cref="IHttpClientBuilder"/>.</param>
    /// <param name="name">The name given to <c>AddDouyinClientToken</c>.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddDouyinClientTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp => new DouyinTokenHandler(
            sp.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name),
            name,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("BackgroundCache.Douyin")));
    }
}
