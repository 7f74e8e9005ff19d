namespace BackgroundCache.Douyin.Testing;

/// <summary>Settings of a <see cref="DouyinEmulator"/>.</summary>
public sealed class DouyinEmulatorOptions
{
    /// <summary>Gets or sets the clock that decides token expiry and the rate window (a <c>FakeTimeProvider</c> in tests).</summary>
    /// <value>The default is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets the apps the emulator knows: client_key → client_secret.</summary>
    public IDictionary<string, string> Apps { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets a token's lifetime.</summary>
    /// <value>The default is 7200 seconds.</value>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    /// <summary>Gets or sets how long a <c>client_token</c> lives after a newer one is issued.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan Overlap { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how many token calls an app may make in <see cref="RateWindow"/>; the next answers 10020.</summary>
    /// <value>The default is 500.</value>
    public int RateLimit { get; set; } = 500;

    /// <summary>Gets or sets the window of <see cref="RateLimit"/>.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the port; 0 picks a free one.</summary>
    /// <value>The default is 0.</value>
    public int Port { get; set; }
}
