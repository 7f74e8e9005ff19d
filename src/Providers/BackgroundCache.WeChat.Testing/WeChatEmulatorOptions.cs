namespace BackgroundCache.WeChat.Testing;

/// <summary>
/// Settings of a <see cref="WeChatEmulator"/>. The defaults match WeChat's documented behaviour; the settings that
/// WeChat does not document precisely are configurable.
/// </summary>
public sealed class WeChatEmulatorOptions
{
    /// <summary>Gets or sets the emulator's clock; tests share one <c>FakeTimeProvider</c> with the code under test.</summary>
    /// <value>The default is <see cref="System.TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the loopback port to listen on; 0 picks a free port.</summary>
    /// <value>The default is 0.</value>
    public int Port { get; set; }

    /// <summary>Gets the registered apps: AppId to AppSecret.</summary>
    public IDictionary<string, string> Apps { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the life of a new access token (<c>expires_in</c>).</summary>
    /// <value>The default is 7200 seconds.</value>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    /// <summary>Gets or sets how long a classic token stays valid after a newer one is issued.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan ClassicOverlap { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the last part of a stable token's life in which a normal call rotates it.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan StableRotationWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the daily quota of classic <c>cgi-bin/token</c> calls per app.</summary>
    /// <value>The default is 2000.</value>
    public int ClassicDailyQuota { get; set; } = 2000;

    /// <summary>Gets or sets the daily limit of <c>stable_token</c> calls per app.</summary>
    /// <value>The default is 500,000.</value>
    public int StableDailyQuota { get; set; } = 500_000;

    /// <summary>Gets or sets the per-minute limit of <c>stable_token</c> calls per app.</summary>
    /// <value>The default is 10,000.</value>
    public int StableMinuteQuota { get; set; } = 10_000;

    /// <summary>Gets or sets the daily limit of forced <c>stable_token</c> refreshes per app.</summary>
    /// <value>The default is 20.</value>
    public int ForceRefreshDailyLimit { get; set; } = 20;

    /// <summary>Gets or sets the least spacing between forced refreshes; a faster repeat does not refresh.</summary>
    /// <value>The default is 30 seconds.</value>
    public TimeSpan ForceRefreshMinInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Gets or sets a value indicating whether a forced refresh repeated within <see cref="ForceRefreshMinInterval"/>
    /// answers errcode 45011 (<see langword="true"/>) or the current token unchanged (<see langword="false"/>). WeChat does
    /// not document which.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool RejectFastForceRefresh { get; set; }

    /// <summary>Gets or sets the offset of the time zone whose midnight resets daily quotas.</summary>
    /// <value>The default is +08:00 (Asia/Shanghai).</value>
    public TimeSpan QuotaResetUtcOffset { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Gets or sets the errcode for a token past its natural expiry (some report 40001).</summary>
    /// <value>The default is 42001.</value>
    public int ExpiredTokenErrorCode { get; set; } = 42001;

    /// <summary>Gets or sets the API IP whitelist; <see langword="null"/> accepts every caller.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public ICollection<string>? IpWhitelist { get; set; }

    /// <summary>Gets or sets the life of a JS-SDK ticket.</summary>
    /// <value>The default is 7200 seconds.</value>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    /// <summary>Gets or sets how long a pushed <c>component_verify_ticket</c> is accepted (61005 after).</summary>
    /// <value>The default is 12 hours.</value>
    public TimeSpan ComponentVerifyTicketLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Gets or sets the interval of scheduled ticket pushes (<see cref="WeChatEmulator.StartPushingTickets(string, Uri, TimeSpan?)"/>).</summary>
    /// <value>The default is 10 minutes.</value>
    public TimeSpan ComponentVerifyTicketInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Gets or sets how long an authorization code can be exchanged with <c>api_query_auth</c>.</summary>
    /// <value>The default is 10 minutes.</value>
    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Gets or sets a value indicating whether each <c>api_authorizer_token</c> answer carries a new
    /// <c>authorizer_refresh_token</c> that replaces the one used (which then answers 61023). WeChat documents that a
    /// refresh token stays valid until the account revokes or authorizes again (its answers return the same one); turn this
    /// on to test that a client stores every refresh token it receives.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool RotateAuthorizerRefreshTokens { get; set; }
}
