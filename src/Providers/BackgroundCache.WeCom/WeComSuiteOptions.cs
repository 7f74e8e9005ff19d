namespace BackgroundCache.WeCom;

/// <summary>
/// Settings of one WeCom third-party app (ISV suite, 第三方应用): its id and secret, and the callback settings of its
/// instruction URL (指令回调URL) where WeCom pushes <c>suite_ticket</c> and authorization changes.
/// </summary>
public sealed class WeComSuiteOptions
{
    /// <summary>Gets or sets the SuiteId (also the receiver id sealed in its pushes). Required.</summary>
    public string SuiteId { get; set; } = string.Empty;

    /// <summary>Gets or sets the SuiteSecret. Required; never logged, never stored in a shared cache.</summary>
    public string SuiteSecret { get; set; } = string.Empty;

    /// <summary>Gets or sets the callback Token that signs pushes (<c>msg_signature</c>). Required.</summary>
    public string Token { get; set; } = string.Empty;

    /// <summary>Gets or sets the callback EncodingAESKey (43 characters). Required.</summary>
    public string EncodingAESKey { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the service provider's CorpId, when the URL check (GET with <c>echostr</c>) seals it instead of the
    /// SuiteId; pushes are always sealed for the SuiteId.
    /// </summary>
    public string? ProviderCorpId { get; set; }

    /// <summary>Gets or sets the API's base address.</summary>
    /// <value>The default is <c>https://qyapi.weixin.qq.com/</c>.</value>
    public Uri BaseAddress { get; set; } = WeComOptions.DefaultBaseAddress;

    /// <summary>Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client the suite's calls go through.</summary>
    /// <value>The default is <see cref="WeComOptions.DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = WeComOptions.DefaultHttpClientName;
}
