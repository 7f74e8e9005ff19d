namespace BackgroundCache.Samples.TokenHub;

/// <summary>The sample's own settings beside the package's (section "TokenHub").</summary>
public sealed class HubOptions
{
    public const string SectionName = "TokenHub";

    /// <summary>Gets or sets the loopback port of the in-process WeChat emulator (0: any free port).</summary>
    public int EmulatorPort { get; set; } = 5081;

    /// <summary>Gets or sets a value indicating whether apps without a secret may be emulated outside Development.</summary>
    public bool UseEmulator { get; set; }

    /// <summary>Gets the accounts the emulated Open Platform apps are authorized by (pushed once the hub has started).</summary>
    public List<string> DemoAuthorizers { get; } = [];

    /// <summary>Gets the apps, to see which have no secret (the package reads the rest).</summary>
    public Dictionary<string, AppSecretOnly> Apps { get; } = new(StringComparer.Ordinal);

    /// <summary>The keys of an app that say which issuer it has and whether a secret is configured.</summary>
    public sealed class AppSecretOnly
    {
        public string? Provider { get; set; }

        public string AppId { get; set; } = string.Empty;

        public string? AppSecret { get; set; }

        public string ComponentAppId { get; set; } = string.Empty;

        public string? ComponentAppSecret { get; set; }

        public string ClientId { get; set; } = string.Empty;

        public string? ClientSecret { get; set; }

        public string? PrivateKey { get; set; }

        public string CorpId { get; set; } = string.Empty;

        public long AgentId { get; set; }

        public string? CorpSecret { get; set; }

        public string AppKey { get; set; } = string.Empty;

        public string ClientKey { get; set; } = string.Empty;

        public bool Is(string provider) => string.Equals(Provider ?? "WeChat", provider, StringComparison.OrdinalIgnoreCase);

        /// <summary>Gets a value indicating whether the app has no secret of its issuer (the sample then emulates the issuer).</summary>
        public bool HasNoSecret =>
            Is("WeChatOpenPlatform") ? string.IsNullOrEmpty(ComponentAppSecret)
            : Is("ClientCredentials") ? string.IsNullOrEmpty(ClientSecret) && string.IsNullOrEmpty(PrivateKey)
            : Is("WeCom") ? string.IsNullOrEmpty(CorpSecret)
            : Is("Douyin") ? string.IsNullOrEmpty(ClientSecret)
            : (Is("WeChat") || Is("Feishu") || Is("DingTalk")) && string.IsNullOrEmpty(AppSecret);
    }
}
