namespace BackgroundCache.Feishu.Testing;

/// <summary>Settings of a <see cref="FeishuEmulator"/>.</summary>
public sealed class FeishuEmulatorOptions
{
    /// <summary>Gets the custom apps (App ID → App Secret) that may call the <c>…/internal</c> endpoints.</summary>
    public IDictionary<string, string> Apps { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets the store apps (App ID → settings) that may call the store-app endpoints.</summary>
    public IDictionary<string, FeishuEmulatorStoreApp> StoreApps { get; } = new Dictionary<string, FeishuEmulatorStoreApp>(StringComparer.Ordinal);

    /// <summary>Gets or sets the clock of token lifetimes (a <c>FakeTimeProvider</c> simulates a day in milliseconds).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets a token's lifetime.</summary>
    /// <value>The default is 2 hours, as Feishu documents.</value>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Gets or sets the renewal window: a fetch returns the current token while at least this much of it remains.</summary>
    /// <value>The default is 30 minutes, as Feishu documents.</value>
    public TimeSpan RenewalWindow { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Gets or sets how many token calls (all auth endpoints together) one minute of the emulator's clock allows before it
    /// answers 99991400 with HTTP 429 and <c>x-ogw-ratelimit-reset</c>; 0 for no limit.
    /// </summary>
    public int TokenCallsPerMinute { get; set; }

    /// <summary>Gets or sets the port; 0 (the default) picks a free one.</summary>
    public int Port { get; set; }
}

/// <summary>A store app known to a <see cref="FeishuEmulator"/>.</summary>
public sealed class FeishuEmulatorStoreApp
{
    /// <summary>Gets or sets the App Secret.</summary>
    public string AppSecret { get; set; } = string.Empty;

    /// <summary>Gets or sets the Verification Token written into each push.</summary>
    public string VerificationToken { get; set; } = string.Empty;

    /// <summary>Gets or sets the Encrypt Key; when set, pushes are encrypted and signed, otherwise sent in clear without signature.</summary>
    public string? EncryptKey { get; set; }

    /// <summary>Gets or sets the event URL that <c>app_ticket</c> pushes go to; null: pushes are only counted.</summary>
    public Uri? EventEndpoint { get; set; }
}
