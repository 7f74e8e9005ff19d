namespace BackgroundCache.TokenHub;

/// <summary>
/// Settings of the token hub: the configuration section given to <c>AddTokenHub</c> (usually <c>TokenHub</c>).
/// Validated when the host starts; an invalid setting fails start with a message that names it.
/// </summary>
public sealed class TokenHubServerOptions
{
    /// <summary>The client that the Development environment adds when no client is configured.</summary>
    public const string DevelopmentClientId = "dev";

    /// <summary>The API key of <see cref="DevelopmentClientId"/>. Never accepted outside Development.</summary>
    public const string DevelopmentApiKey = "dev-key";

    /// <summary>The entry of <see cref="TokenHubClientOptions.Apps"/> that grants every app.</summary>
    public const string AllApps = "*";

    /// <summary>Gets or sets the request header that carries a client's API key.</summary>
    /// <value>The default is <c>X-Api-Key</c>.</value>
    public string ApiKeyHeader { get; set; } = "X-Api-Key";

    /// <summary>
    /// Gets the callers (business servers) by id: each has one or more API keys and the apps it may read. Required outside
    /// Development; in Development, when none is configured, client <c>dev</c> with key <c>dev-key</c> reads every app.
    /// </summary>
    public Dictionary<string, TokenHubClientOptions> Clients { get; } = new(StringComparer.Ordinal);

    /// <summary>Gets the WeChat apps whose tokens the hub keeps fresh, by name (the <c>{name}</c> of every endpoint).</summary>
    public Dictionary<string, TokenHubAppOptions> Apps { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets a Redis connection string (e.g. <c>redis:6379</c>). When set, every app's caches are coordinated through
    /// Redis, so several hubs behind a load balancer make one refresher and serve the same token. Read at registration.
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>Gets or sets the prefix of the Redis keys and channels of the hub's caches.</summary>
    /// <value>The default is <c>backgroundcache:tokenhub:</c>.</value>
    public string RedisKeyPrefix { get; set; } = "backgroundcache:tokenhub:";

    /// <summary>
    /// Gets or sets a value indicating whether apps may be served by a WeChat emulator outside Development (a demo).
    /// The status page and every answer then say so. Without it, an emulated app fails start outside Development.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool UseEmulator { get; set; }

    /// <summary>Gets or sets a value indicating whether the status page and <c>/health</c> need a client's API key too.</summary>
    /// <value>The default is <see langword="false"/> (the page shows token fingerprints, never tokens).</value>
    public bool RequireApiKeyForStatus { get; set; }

    /// <summary>Gets or sets the largest request body an endpoint accepts (only the invalidation endpoint reads one).</summary>
    /// <value>The default is 4096 bytes.</value>
    public long MaxRequestBodySize { get; set; } = 4096;

    /// <summary>
    /// Gets or sets how many invalidations one client may send per <see cref="InvalidationWindow"/>; more are answered 429.
    /// Only a report of the token currently served counts (any other costs the hub nothing); concurrent reports of one token count once.
    /// </summary>
    /// <value>The default is 3.</value>
    public int InvalidationPermitLimit { get; set; } = 3;

    /// <summary>
    /// Gets or sets how many invalidations all clients together may send for one app per <see cref="InvalidationWindow"/>;
    /// more are answered 429. Keep it below the app's WeChat breaker (<c>FetchBreakerThreshold</c>, 6 fetches in 10 minutes by
    /// default, counting the scheduled refreshes), so that key holders cannot open the breaker and stop refreshes for everybody.
    /// </summary>
    /// <value>The default is 4.</value>
    public int InvalidationPermitLimitPerApp { get; set; } = 4;

    /// <summary>Gets or sets the window of <see cref="InvalidationPermitLimit"/> and <see cref="InvalidationPermitLimitPerApp"/>.</summary>
    /// <value>The default is 10 minutes.</value>
    public TimeSpan InvalidationWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Gets or sets how many JS-SDK signatures (<c>POST /tickets/{name}/signature</c>) one client may ask for per
    /// <see cref="SignatureWindow"/>; more are answered 429.
    /// </summary>
    /// <value>The default is 600.</value>
    public int SignaturePermitLimit { get; set; } = 600;

    /// <summary>Gets or sets the window of <see cref="SignaturePermitLimit"/>.</summary>
    /// <value>The default is 1 minute.</value>
    public TimeSpan SignatureWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets how many recent refreshes the status page lists.</summary>
    /// <value>The default is 50.</value>
    public int TimelineLength { get; set; } = 50;
}
