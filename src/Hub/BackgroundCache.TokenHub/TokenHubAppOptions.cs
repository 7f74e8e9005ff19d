using BackgroundCache.WeChat;

namespace BackgroundCache.TokenHub;

/// <summary>
/// One app whose token the hub keeps fresh: section <c>TokenHub:Apps:{name}</c>. The same section also binds the options of
/// the app's <see cref="Provider"/> (for WeChat, <see cref="WeChatOptions"/>: any of its settings may be given here) and,
/// under <c>Cache</c>, its <see cref="RefreshingCacheOptions"/>. The properties below are the WeChat provider's.
/// </summary>
public sealed class TokenHubAppOptions
{
    /// <summary>
    /// Gets or sets who issues the app's tokens: <c>WeChat</c> (an Official Account or Mini Program; the keys of
    /// <see cref="WeChatOptions"/>), <c>WeChatOpenPlatform</c> (a third-party platform; the keys of
    /// <c>WeChatOpenPlatformOptions</c>), <c>ClientCredentials</c> (OAuth 2.0; the keys of <c>ClientCredentialsOptions</c>).
    /// Another value fails start.
    /// </summary>
    /// <value>The default is <see langword="null"/>: <c>WeChat</c>.</value>
    public string? Provider { get; set; }

    /// <summary>Gets or sets the app's AppId. Required for a WeChat app.</summary>
    public string AppId { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the app's AppSecret; keep it in user secrets, an environment variable or a vault. Required unless the app
    /// is served by an emulator (Development, or <see cref="TokenHubServerOptions.UseEmulator"/>).
    /// </summary>
    public string? AppSecret { get; set; }

    /// <summary>Gets or sets which WeChat endpoint issues the token.</summary>
    /// <value>The default is <see cref="WeChatTokenMode.StableToken"/>.</value>
    public WeChatTokenMode Mode { get; set; } = WeChatTokenMode.StableToken;

    /// <summary>Gets or sets a value indicating whether the hub also keeps the app's JS-SDK ticket (<c>GET /tickets/{name}</c>).</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool JsApiTicket { get; set; }
}
