namespace BackgroundCache.WeChat;

/// <summary>
/// Settings of one WeChat Official Account (app) whose access token a cache keeps fresh. Named options: the name is the
/// token cache's name. Bindable from configuration; validated when the host starts.
/// </summary>
public sealed class WeChatOptions
{
    /// <summary>The public API's address.</summary>
    public static readonly Uri DefaultBaseAddress = new("https://api.weixin.qq.com/");

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token and ticket calls use unless
    /// <see cref="HttpClientName"/> names another; registered by <c>AddWeChatAccessToken</c> with no timeout of its own
    /// (<see cref="RefreshingCacheOptions.FetchTimeout"/> bounds each call).
    /// </summary>
    public const string DefaultHttpClientName = "BackgroundCache.WeChat";

    /// <summary>Gets or sets the app's AppId. Required.</summary>
    public string AppId { get; set; } = string.Empty;

    /// <summary>Gets or sets the app's AppSecret. Required; never logged, never stored in a shared cache.</summary>
    public string AppSecret { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the API's base address (alternates: <c>api2.</c> for disaster recovery, <c>sh.</c>/<c>sz.</c>/<c>hk.</c>
    /// regional, or a local emulator).
    /// </summary>
    /// <value>The default is <c>https://api.weixin.qq.com/</c>.</value>
    public Uri BaseAddress { get; set; } = DefaultBaseAddress;

    /// <summary>
    /// Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token and ticket calls go
    /// through. WeChat answers only servers on the app's IP whitelist (errcode 40164): behind Kubernetes or a NAT, register
    /// a client that sends through a proxy with a fixed egress IP (and, if you like, a resilience handler), and name it here.
    /// </summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;

    /// <summary>Gets or sets which endpoint issues the token.</summary>
    /// <value>The default is <see cref="WeChatTokenMode.StableToken"/>.</value>
    public WeChatTokenMode Mode { get; set; } = WeChatTokenMode.StableToken;

    /// <summary>
    /// Gets or sets how many token fetches within <see cref="FetchBreakerWindow"/> open the breaker: a burst of fetches
    /// means repeated invalidations (a token WeChat keeps rejecting), and calling again would only burn quota. Only fetches
    /// that return a new token count: a stable-token answer with the token already held (WeChat refuting an invalidation
    /// report) does not.
    /// </summary>
    /// <value>The default is 6.</value>
    public int FetchBreakerThreshold { get; set; } = 6;

    /// <summary>Gets or sets the window in which <see cref="FetchBreakerThreshold"/> fetches open the breaker.</summary>
    /// <value>The default is 10 minutes.</value>
    public TimeSpan FetchBreakerWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets or sets how long an open breaker refuses fetches (the last token keeps being served).</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan FetchBreakerDuration { get; set; } = TimeSpan.FromMinutes(5);
}
