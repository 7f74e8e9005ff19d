namespace BackgroundCache.DingTalk;

/// <summary>
/// Settings of one DingTalk internal app (企业内部应用) whose access token a cache keeps fresh. Named options: the name is the
/// token cache's name. Bindable from configuration; validated when the host starts.
/// </summary>
public sealed class DingTalkOptions
{
    /// <summary>The new API's address.</summary>
    public static readonly Uri DefaultBaseAddress = new("https://api.dingtalk.com/");

    /// <summary>The legacy API's address.</summary>
    public static readonly Uri DefaultLegacyBaseAddress = new("https://oapi.dingtalk.com/");

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls use unless
    /// <see cref="HttpClientName"/> names another; registered by <c>AddDingTalkAccessToken</c> with no timeout of its own
    /// (<see cref="RefreshingCacheOptions.FetchTimeout"/> bounds each call).
    /// </summary>
    public const string DefaultHttpClientName = "BackgroundCache.DingTalk";

    /// <summary>Gets or sets the app's AppKey (shown as Client ID in the developer console). Required.</summary>
    public string AppKey { get; set; } = string.Empty;

    /// <summary>Gets or sets the app's AppKey under its newer name, Client ID; the same setting as <see cref="AppKey"/>.</summary>
    public string ClientId
    {
        get => AppKey;
        set => AppKey = value;
    }

    /// <summary>Gets or sets the app's AppSecret (Client Secret). Required; never logged, never stored in a shared cache.</summary>
    public string AppSecret { get; set; } = string.Empty;

    /// <summary>Gets or sets which endpoint issues the token.</summary>
    /// <value>The default is <see cref="DingTalkApi.New"/>.</value>
    public DingTalkApi Api { get; set; } = DingTalkApi.New;

    /// <summary>Gets or sets the new API's base address (or a local emulator's).</summary>
    /// <value>The default is <c>https://api.dingtalk.com/</c>.</value>
    public Uri BaseAddress { get; set; } = DefaultBaseAddress;

    /// <summary>Gets or sets the legacy API's base address (or a local emulator's).</summary>
    /// <value>The default is <c>https://oapi.dingtalk.com/</c>.</value>
    public Uri LegacyBaseAddress { get; set; } = DefaultLegacyBaseAddress;

    /// <summary>
    /// Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls go through
    /// (a proxy with a fixed egress IP when the app has an IP whitelist).
    /// </summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;
}
