using BackgroundCache.WeChat;

namespace BackgroundCache.Samples.TokenHub;

/// <summary>The hub's settings: section "TokenHub".</summary>
public sealed class HubOptions
{
    public const string SectionName = "TokenHub";

    /// <summary>Gets or sets the header that carries the API key.</summary>
    public string ApiKeyHeader { get; set; } = "X-Api-Key";

    /// <summary>Gets the accepted API keys (several, so keys can be rotated). Required outside Development.</summary>
    public List<string> ApiKeys { get; } = [];

    /// <summary>Gets or sets the loopback port of the in-process emulator (0: any free port).</summary>
    public int EmulatorPort { get; set; } = 5081;

    /// <summary>Gets the WeChat apps whose tokens the hub refreshes, by name.</summary>
    public Dictionary<string, HubAppOptions> Apps { get; } = new(StringComparer.Ordinal);
}

/// <summary>One WeChat app: section "TokenHub:Apps:{name}".</summary>
public sealed class HubAppOptions
{
    public string AppId { get; set; } = string.Empty;

    /// <summary>Gets or sets the AppSecret; keep it in user secrets or an environment variable. Empty: use the emulator.</summary>
    public string? AppSecret { get; set; }

    public Uri? BaseAddress { get; set; }

    public WeChatTokenMode Mode { get; set; } = WeChatTokenMode.StableToken;

    /// <summary>Gets or sets a value indicating whether the hub also keeps the app's JS-SDK ticket.</summary>
    public bool JsApiTicket { get; set; }
}
