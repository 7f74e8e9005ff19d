namespace BackgroundCache.WeCom.Testing;

/// <summary>Settings of a <see cref="WeComEmulator"/>.</summary>
public sealed class WeComEmulatorOptions
{
    /// <summary>Gets or sets the emulator's clock (a <c>FakeTimeProvider</c> simulates a day in milliseconds).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the port on 127.0.0.1; 0 (the default) picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>Gets or sets the life of access tokens, suite tokens and corp tokens.</summary>
    /// <value>The default is 7200 s.</value>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    /// <summary>Gets or sets the life of JS-SDK tickets.</summary>
    /// <value>The default is 7200 s.</value>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromSeconds(7200);

    /// <summary>
    /// Gets or sets a value indicating whether <c>gettoken</c> returns the current token, with its remaining life, while
    /// it is valid (the older documentation's "有效期内重复获取返回相同结果"). Off by default: the current documentation
    /// does not promise it, and each call then issues a new token while earlier ones live out their own life.
    /// </summary>
    public bool SameTokenWithinValidity { get; set; }

    /// <summary>Gets or sets how many <c>gettoken</c> calls one app may make per minute before 45009.</summary>
    /// <value>The default is 10,000 (WeCom's per-corp, per-API minute limit).</value>
    public int GetTokenMinuteLimit { get; set; } = 10_000;

    /// <summary>Gets or sets how many <c>gettoken</c> calls one app may make per hour before 45009.</summary>
    /// <value>The default is 150,000 (WeCom's per-corp, per-API hour limit).</value>
    public int GetTokenHourLimit { get; set; } = 150_000;

    /// <summary>Gets or sets how many corp JS-SDK ticket calls one corp may make per hour before 45009.</summary>
    /// <value>The default is 400.</value>
    public int CorpTicketHourLimit { get; set; } = 400;

    /// <summary>Gets or sets how many agent JS-SDK ticket calls one app may make per hour before 45009.</summary>
    /// <value>The default is 100.</value>
    public int AgentTicketHourLimit { get; set; } = 100;

    /// <summary>Gets or sets the trusted IPs; when set, other callers get 60020.</summary>
    public ICollection<string>? TrustedIps { get; set; }

    /// <summary>Gets or sets how long a pushed suite_ticket is accepted by <c>get_suite_token</c>.</summary>
    /// <value>The default is 30 minutes.</value>
    public TimeSpan SuiteTicketLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Gets or sets how long a temporary authorization code can be exchanged.</summary>
    /// <value>The default is 10 minutes.</value>
    public TimeSpan AuthCodeLifetime { get; set; } = TimeSpan.FromMinutes(10);
}
