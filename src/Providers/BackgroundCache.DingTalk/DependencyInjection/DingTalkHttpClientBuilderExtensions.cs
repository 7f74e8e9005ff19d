using BackgroundCache;
using BackgroundCache.DingTalk.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Attaches DingTalk access tokens to the requests of an <see cref="HttpClient"/> from <c>IHttpClientFactory</c>.</summary>
public static class DingTalkHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds the DingTalk access token named <paramref name="name"/> to each request: the <c>x-acs-dingtalk-access-token</c>
    /// header on new-API paths (<c>/v1.0/…</c>), the <c>access_token</c> query parameter on legacy paths. When DingTalk
    /// answers that the token is invalid or expired (40001, 40014, 42001, or HTTP 401 <c>InvalidAuthentication</c>), the
    /// token is reported (one refresh for every caller that saw it) and the request is sent once more with the replacement;
    /// a second failure is returned as it is.
    /// </summary>
    /// <param name="builder">The <see cref="IHttpClientBuilder"/>.</param>
    /// <param name="name">The name given to <c>AddDingTalkAccessToken</c>.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddDingTalkAccessTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp => new DingTalkTokenHandler(
            sp.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name),
            name,
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger("BackgroundCache.DingTalk")));
    }
}
