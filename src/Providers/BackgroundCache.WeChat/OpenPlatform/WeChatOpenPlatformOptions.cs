namespace BackgroundCache.WeChat;

/// <summary>
/// Settings of one WeChat Open Platform third-party platform (第三方平台). Named options: the name is the platform's name
/// given to <c>AddWeChatOpenPlatform</c>. Bindable from configuration; validated when the host starts.
/// </summary>
public sealed class WeChatOpenPlatformOptions
{
    /// <summary>Gets or sets the platform's AppId (<c>component_appid</c>). Required.</summary>
    public string ComponentAppId { get; set; } = string.Empty;

    /// <summary>Gets or sets the platform's AppSecret (<c>component_appsecret</c>). Required; never logged, never stored in a shared store.</summary>
    public string ComponentAppSecret { get; set; } = string.Empty;

    /// <summary>Gets or sets the message-check Token of the event URL (消息校验Token), used to verify <c>msg_signature</c>. Required.</summary>
    public string Token { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the event URL's message encryption key (消息加解密Key): 43 characters from <c>a-z</c>, <c>A-Z</c>,
    /// <c>0-9</c>. Required.
    /// </summary>
    public string EncodingAESKey { get; set; } = string.Empty;

    /// <summary>Gets or sets the API's base address (or a local emulator).</summary>
    /// <value>The default is <c>https://api.weixin.qq.com/</c>.</value>
    public Uri BaseAddress { get; set; } = WeChatOptions.DefaultBaseAddress;

    /// <summary>
    /// Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that component, authorizer and
    /// ticket calls go through (a proxy with the platform's whitelisted egress IP).
    /// </summary>
    /// <value>The default is <see cref="WeChatOptions.DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = WeChatOptions.DefaultHttpClientName;
}
