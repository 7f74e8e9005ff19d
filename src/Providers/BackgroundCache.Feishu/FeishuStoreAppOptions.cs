namespace BackgroundCache.Feishu;

/// <summary>
/// Settings of one Feishu/Lark store app (商店应用, ISV): its credentials, the event subscription's Encrypt Key and
/// Verification Token, and the Open Platform's address. Named options: the name is the store app's name. Bindable from
/// configuration; validated when the host starts.
/// </summary>
public sealed class FeishuStoreAppOptions
{
    /// <summary>Gets or sets the app's App ID (<c>cli_…</c>). Required.</summary>
    public string AppId { get; set; } = string.Empty;

    /// <summary>Gets or sets the app's App Secret. Required; never logged.</summary>
    public string AppSecret { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the event subscription's Encrypt Key (加密策略 › Encrypt Key). When set, pushes are expected encrypted and
    /// signed (<c>X-Lark-Signature</c>), and unsigned ones are refused. Optional, recommended.
    /// </summary>
    public string? EncryptKey { get; set; }

    /// <summary>
    /// Gets or sets the event subscription's Verification Token: each push carries it, and a push with another is refused.
    /// Required.
    /// </summary>
    public string VerificationToken { get; set; } = string.Empty;

    /// <summary>Gets or sets the Open Platform's address (<see cref="FeishuOptions.FeishuBaseAddress"/> or <see cref="FeishuOptions.LarkBaseAddress"/>).</summary>
    /// <value>The default is <c>https://open.feishu.cn/</c>.</value>
    public Uri BaseAddress { get; set; } = FeishuOptions.FeishuBaseAddress;

    /// <summary>Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls go through.</summary>
    /// <value>The default is <see cref="FeishuOptions.DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = FeishuOptions.DefaultHttpClientName;
}
