using BackgroundCache;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Internal;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Attaches a cached WeChat access token to the requests of an <see cref="HttpClient"/> built by <see cref="IHttpClientFactory"/>.
/// </summary>
public static class WeChatHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds a handler that puts the current token of the token cache <paramref name="name"/> into each request's
    /// <c>access_token</c> query parameter; when WeChat answers 40001, 40014 or 42001, it invalidates that token (one
    /// refresh however many requests failed) and retries the request once with the new token.
    /// </summary>
    /// <param name="builder">The HTTP client builder.</param>
    /// <param name="name">The token cache's name (from <c>AddWeChatAccessToken</c> or <c>AddTokenHubAccessToken</c>).</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddWeChatAccessTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp => new WeChatAccessTokenHandler(
            sp.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name),
            name,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat")));
    }

    /// <summary>
    /// Adds a handler that puts the current <c>authorizer_access_token</c> of one authorizer of the WeChat Open Platform
    /// <paramref name="name"/> into each request's <c>access_token</c> query parameter, so the client calls WeChat's APIs on
    /// that account's behalf; when WeChat answers 40001, 40014 or 42001, it invalidates that token (one refresh however many
    /// requests failed) and retries the request once.
    /// </summary>
    /// <param name="builder">The HTTP client builder.</param>
    /// <param name="name">The platform's name (from <c>AddWeChatOpenPlatform</c>).</param>
    /// <param name="authorizerAppId">The authorizer's AppId.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddWeChatAuthorizerAccessTokenHandler(this IHttpClientBuilder builder, string name, string authorizerAppId)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentException.ThrowIfNullOrEmpty(authorizerAppId);
        return builder.AddHttpMessageHandler(sp => new WeChatAccessTokenHandler(
            new AuthorizerTokenView(sp.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(name), authorizerAppId),
            $"{name}[{authorizerAppId}]",
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat")));
    }

    /// <summary>
    /// Adds a handler that puts the current <c>authorizer_access_token</c> of the authorizer named in each request's
    /// options (<see cref="SetWeChatAuthorizer"/>) into its <c>access_token</c> query parameter, so one
    /// client calls WeChat's APIs on behalf of any account of the platform <paramref name="name"/>; when WeChat answers
    /// 40001, 40014 or 42001, it invalidates that token (one refresh however many requests failed) and retries once.
    /// </summary>
    /// <param name="builder">The HTTP client builder.</param>
    /// <param name="name">The platform's name (from <c>AddWeChatOpenPlatform</c>).</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    /// <example><code>
    /// using var request = new HttpRequestMessage(HttpMethod.Get, "cgi-bin/get_current_selfmenu_info");
    /// request.SetWeChatAuthorizer("wx-authorizer-appid");
    /// using var response = await client.SendAsync(request);
    /// </code></example>
    public static IHttpClientBuilder AddWeChatAuthorizerAccessTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp =>
        {
            var set = sp.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(name);
            return new WeChatAccessTokenHandler(
                request => GetWeChatAuthorizer(request) is { Length: > 0 } appId
                    ? (new AuthorizerTokenView(set, appId), $"{name}[{appId}]")
                    : throw new InvalidOperationException($"The request has no authorizer: call request.SetWeChatAuthorizer(appId) (option {WeChatOpenPlatform.AuthorizerAppIdOption}) for a client with AddWeChatAuthorizerAccessTokenHandler(\"{name}\")."),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat"));
        });
    }

    /// <summary>
    /// Names the authorizer (its AppId) whose token <c>AddWeChatAuthorizerAccessTokenHandler</c> attaches to this request.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="authorizerAppId">The authorizer's AppId.</param>
    /// <returns>The <paramref name="request"/> so that additional calls can be chained.</returns>
    public static HttpRequestMessage SetWeChatAuthorizer(this HttpRequestMessage request, string authorizerAppId)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(authorizerAppId);
#if NETSTANDARD2_0
        request.Properties[WeChatOpenPlatform.AuthorizerAppIdOption] = authorizerAppId;
#else
        request.Options.Set(new HttpRequestOptionsKey<string>(WeChatOpenPlatform.AuthorizerAppIdOption), authorizerAppId);
#endif
        return request;
    }

    private static string? GetWeChatAuthorizer(HttpRequestMessage request)
    {
#if NETSTANDARD2_0
        return request.Properties.TryGetValue(WeChatOpenPlatform.AuthorizerAppIdOption, out var value) ? value as string : null;
#else
        return request.Options.TryGetValue(new HttpRequestOptionsKey<string>(WeChatOpenPlatform.AuthorizerAppIdOption), out var value) ? value : null;
#endif
    }
}
