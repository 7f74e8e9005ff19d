namespace BackgroundCache.TokenHub;

/// <summary>
/// One caller of the hub (a business server): section <c>TokenHub:Clients:{id}</c>.
/// </summary>
public sealed class TokenHubClientOptions
{
    /// <summary>Gets or sets the client's API key (a long random string; keep it out of source control).</summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Gets further API keys of the client, all accepted alongside <see cref="ApiKey"/>: add the new key, move the
    /// client to it, then remove the old one.
    /// </summary>
    public List<string> ApiKeys { get; } = [];

    /// <summary>
    /// Gets the apps the client may read and invalidate; <c>*</c> grants every app. Another app's name is answered 403.
    /// </summary>
    public List<string> Apps { get; } = [];

    /// <summary>
    /// Gets or sets a value indicating whether the client may force a new WeChat stable token
    /// (<c>POST /tokens/{name}/invalidate?force=true</c>, for a leaked token), within WeChat's 20 forced refreshes a day.
    /// </summary>
    /// <value>The default is <see langword="false"/> (403).</value>
    public bool CanForceRefresh { get; set; }
}
