using BackgroundCache.WeChat;

namespace BackgroundCache.TokenHub;

/// <summary>
/// One WeChat app whose token the hub keeps fresh: section <c>TokenHub:Apps:{name}</c>. The same section also binds the
/// app's <see cref="WeChatOptions"/> (any of its settings may be given here) and, under <c>Cache</c>, its
/// <see cref="RefreshingCacheOptions"/>.
/// </summary>
public sealed class TokenHubAppOptions
{
    /// <summary>Gets or sets the app's AppId. Required.</summary>
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
