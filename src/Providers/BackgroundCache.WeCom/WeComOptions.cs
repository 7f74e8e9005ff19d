namespace BackgroundCache.WeCom;

/// <summary>
/// Settings of one WeCom (企业微信) app whose access token a cache keeps fresh: each app of a corp has its own secret and
/// its own token. Named options: the name is the token cache's name. Bindable from configuration; validated at start.
/// </summary>
public sealed class WeComOptions
{
    /// <summary>The public API's address.</summary>
    public static readonly Uri DefaultBaseAddress = new("https://qyapi.weixin.qq.com/");

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token and ticket calls use unless
    /// <see cref="HttpClientName"/> names another; registered with no timeout of its own
    /// (<see cref="RefreshingCacheOptions.FetchTimeout"/> bounds each call).
    /// </summary>
    public const string DefaultHttpClientName = "BackgroundCache.WeCom";

    /// <summary>Gets or sets the corp's CorpId (企业ID). Required.</summary>
    public string CorpId { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the app's secret (应用的凭证密钥; the contacts or customer-contact secret for those APIs). Required;
    /// never logged, never part of a cache key (a fingerprint identifies it).
    /// </summary>
    public string CorpSecret { get; set; } = string.Empty;

    /// <summary>Gets or sets the app's AgentId; needed for the agent JS-SDK ticket only (<c>wx.agentConfig</c>).</summary>
    public long? AgentId { get; set; }

    /// <summary>Gets or sets the API's base address (a proxy with a whitelisted egress IP, or a local emulator).</summary>
    /// <value>The default is <c>https://qyapi.weixin.qq.com/</c>.</value>
    public Uri BaseAddress { get; set; } = DefaultBaseAddress;

    /// <summary>
    /// Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token and ticket calls go
    /// through. WeCom answers only trusted IPs (errcode 60020): name a client that sends through a fixed egress IP.
    /// </summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;
}
