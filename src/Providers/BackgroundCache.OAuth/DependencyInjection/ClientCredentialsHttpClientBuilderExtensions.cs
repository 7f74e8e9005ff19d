using BackgroundCache;
using BackgroundCache.OAuth.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Attaches client credentials tokens to the requests of an <see cref="HttpClient"/> from <c>IHttpClientFactory</c>.
/// </summary>
public static class ClientCredentialsHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds <c>Authorization: Bearer …</c> with the client credentials token named <paramref name="name"/> to each request.
    /// When the API answers 401 with <c>WWW-Authenticate: Bearer error="invalid_token"</c>, the token is reported (one
    /// refresh for every caller that saw it) and the request is sent once more with the replacement; a second 401 is
    /// returned as it is, and a request whose body cannot be sent twice (a stream of unknown length, or over 1 MiB) is not
    /// sent again.
    /// </summary>
    /// <param name="builder">The <see cref="IHttpClientBuilder"/>.</param>
    /// <param name="name">The name given to <c>AddClientCredentialsToken</c> (or any token cache of that name).</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddClientCredentialsTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp =>
        {
            var cache = sp.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);
            return new ClientCredentialsTokenHandler(_ => (cache, name), CreateLogger(sp));
        });
    }

    /// <summary>
    /// Adds <c>Authorization: Bearer …</c> with the token of the client credentials set named <paramref name="name"/> for
    /// the key <paramref name="selectKey"/> picks from each request (a tenant header, the host), with the same one-retry
    /// rule as <see cref="AddClientCredentialsTokenHandler(IHttpClientBuilder, string)"/>.
    /// </summary>
    /// <typeparam name="TKey">The set's key type.</typeparam>
    /// <param name="builder">The <see cref="IHttpClientBuilder"/>.</param>
    /// <param name="name">The name given to <c>AddClientCredentialsTokenSet</c>.</param>
    /// <param name="selectKey">Picks the key of a request.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddClientCredentialsTokenHandler<TKey>(this IHttpClientBuilder builder, string name, Func<HttpRequestMessage, TKey> selectKey)
        where TKey : notnull
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(selectKey);
        return builder.AddHttpMessageHandler(sp =>
        {
            var set = sp.GetRequiredKeyedService<IRefreshingCacheSet<TKey, AccessToken>>(name);
            return new ClientCredentialsTokenHandler(request => (set.GetOrAdd(selectKey(request)), name), CreateLogger(sp));
        });
    }

    private static ILogger CreateLogger(IServiceProvider services) =>
        (services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("BackgroundCache.OAuth");
}
