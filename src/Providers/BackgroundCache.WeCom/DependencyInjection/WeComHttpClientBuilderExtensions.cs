using BackgroundCache;
using BackgroundCache.WeCom.Internal;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Attaches a cached WeCom access token to the requests of an <see cref="HttpClient"/> built by <see cref="IHttpClientFactory"/>.</summary>
public static class WeComHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds a handler that puts the current token of the token cache <paramref name="name"/> into each request's
    /// <c>access_token</c> query parameter; when WeCom answers 40014 (invalid) or 42001 (expired), it reports that token
    /// (one refresh however many requests failed) and retries the request once with the new token. Other answers,
    /// 301002 (a token of another app) included, go back to the caller unchanged.
    /// </summary>
    /// <param name="builder">The HTTP client builder.</param>
    /// <param name="name">The token cache's name (from <c>AddWeComAccessToken</c>).</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddWeComAccessTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp =>
        {
            var cache = sp.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);
            return new WeComAccessTokenHandler(_ => (cache, name), sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeCom"));
        });
    }
}
