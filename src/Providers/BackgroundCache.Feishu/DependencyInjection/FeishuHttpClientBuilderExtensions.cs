using BackgroundCache;
using BackgroundCache.Feishu;
using BackgroundCache.Feishu.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Attaches Feishu/Lark tokens to the requests of an <see cref="HttpClient"/> from <c>IHttpClientFactory</c>.
/// </summary>
public static class FeishuHttpClientBuilderExtensions
{
    /// <summary>
    /// Adds <c>Authorization: Bearer …</c> with the token cache named <paramref name="name"/> (a
    /// <c>AddFeishuTenantAccessToken</c> or <c>AddFeishuAppAccessToken</c> registration) to each request. When Feishu answers
    /// that the token is invalid or expired (<c>code</c> 99991663, 99991664, 99991671 or 99991677 in the JSON body), the token
    /// is reported (one refresh for every caller that saw it) and the request is sent once more with the replacement; a second
    /// rejection is returned as it is.
    /// </summary>
    /// <param name="builder">The <see cref="IHttpClientBuilder"/>.</param>
    /// <param name="name">The token cache's name.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddFeishuTenantAccessTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp =>
        {
            var cache = sp.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);
            return new FeishuTokenHandler(_ => (cache, name), sp.CreateFeishuLogger());
        });
    }

    /// <summary>
    /// Adds <c>Authorization: Bearer …</c> with the <c>tenant_access_token</c> of the store app named
    /// <paramref name="name"/> for the tenant set on each request with <see cref="SetFeishuTenant(HttpRequestMessage, string)"/>,
    /// with the same one-retry rule as <see cref="AddFeishuTenantAccessTokenHandler(IHttpClientBuilder, string)"/>.
    /// </summary>
    /// <param name="builder">The <see cref="IHttpClientBuilder"/>.</param>
    /// <param name="name">The store app's name given to <c>AddFeishuStoreApp</c>.</param>
    /// <returns>The <see cref="IHttpClientBuilder"/> so that additional calls can be chained.</returns>
    public static IHttpClientBuilder AddFeishuStoreAppTenantTokenHandler(this IHttpClientBuilder builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(name);
        return builder.AddHttpMessageHandler(sp =>
        {
            var set = sp.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(name);
            return new FeishuTokenHandler(request => (set.GetOrAdd(TenantOf(request)), name), sp.CreateFeishuLogger());
        });
    }

    /// <summary>Names the tenant (<c>tenant_key</c>) whose token <c>AddFeishuStoreAppTenantTokenHandler</c> attaches to this request.</summary>
    /// <param name="request">The request.</param>
    /// <param name="tenantKey">The tenant's <c>tenant_key</c>.</param>
    /// <returns>The <paramref name="request"/>.</returns>
    public static HttpRequestMessage SetFeishuTenant(this HttpRequestMessage request, string tenantKey)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(tenantKey);
#if NET
        request.Options.Set(new HttpRequestOptionsKey<string>(FeishuStoreApp.TenantKeyOption), tenantKey);
#else
        request.Properties[FeishuStoreApp.TenantKeyOption] = tenantKey;
#endif
        return request;
    }

    private static string TenantOf(HttpRequestMessage request)
    {
#if NET
        if (request.Options.TryGetValue(new HttpRequestOptionsKey<string>(FeishuStoreApp.TenantKeyOption), out var key) && !string.IsNullOrEmpty(key))
        {
            return key;
        }
#else
        if (request.Properties.TryGetValue(FeishuStoreApp.TenantKeyOption, out var value) && value is string key && key.Length > 0)
        {
            return key;
        }
#endif
        throw new InvalidOperationException("The request names no Feishu tenant: call request.SetFeishuTenant(tenantKey) before sending it.");
    }
}
