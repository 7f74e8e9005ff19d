namespace BackgroundCache.DingTalk.Testing;

/// <summary>Settings of a <see cref="DingTalkEmulator"/>.</summary>
public sealed class DingTalkEmulatorOptions
{
    /// <summary>Gets or sets the clock that decides token expiry and rate windows (a <c>FakeTimeProvider</c> in tests).</summary>
    /// <value>The default is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets the apps the emulator knows: AppKey → AppSecret.</summary>
    public IDictionary<string, string> Apps { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets a token's lifetime; each fetch within it pushes the expiry out by this much again.</summary>
    /// <value>The default is 7200 seconds.</value>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    /// <summary>Gets or sets how many token calls one client IP may make in <see cref="IpRateWindow"/> before it is banned.</summary>
    /// <value>The default is 10,000 (DingTalk's documented per-IP limit).</value>
    public int IpRateLimit { get; set; } = 10_000;

    /// <summary>Gets or sets the window of <see cref="IpRateLimit"/>.</summary>
    /// <value>The default is 20 seconds.</value>
    public TimeSpan IpRateWindow { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Gets or sets how long a banned IP gets the ban page (code 1111).</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan IpBanDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the port; 0 picks a free one.</summary>
    /// <value>The default is 0.</value>
    public int Port { get; set; }
}
