namespace BackgroundCache.Feishu;

/// <summary>
/// Settings of one Feishu/Lark custom app (企业自建应用) whose <c>tenant_access_token</c> (or <c>app_access_token</c>) a
/// cache keeps fresh. Named options: the name is the token cache's name. Bindable from configuration; validated when the
/// host starts.
/// </summary>
public sealed class FeishuOptions
{
    /// <summary>Feishu's Open Platform (China): <c>https://open.feishu.cn/</c>.</summary>
    public static readonly Uri FeishuBaseAddress = new("https://open.feishu.cn/");

    /// <summary>Lark's Open Platform (international): <c>https://open.larksuite.com/</c>.</summary>
    public static readonly Uri LarkBaseAddress = new("https://open.larksuite.com/");

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls use unless
    /// <see cref="HttpClientName"/> names another; registered with no timeout of its own
    /// (<see cref="RefreshingCacheOptions.FetchTimeout"/> bounds each call).
    /// </summary>
    public const string DefaultHttpClientName = "BackgroundCache.Feishu";

    /// <summary>Gets or sets the app's App ID (<c>cli_…</c>). Required.</summary>
    public string AppId { get; set; } = string.Empty;

    /// <summary>Gets or sets the app's App Secret. Required; never logged, never stored in a shared cache.</summary>
    public string AppSecret { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the Open Platform's address: <see cref="FeishuBaseAddress"/> (the default), <see cref="LarkBaseAddress"/>
    /// for Lark, or an emulator's address in tests.
    /// </summary>
    /// <value>The default is <c>https://open.feishu.cn/</c>.</value>
    public Uri BaseAddress { get; set; } = FeishuBaseAddress;

    /// <summary>Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls go through.</summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;
}
