namespace BackgroundCache.WeChat;

/// <summary>
/// Settings of a client that reads an access token from a central token hub (WeChat's "central control server") instead
/// of calling WeChat. Named options: the name is the local token cache's name.
/// </summary>
public sealed class TokenHubOptions
{
    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that calls the hub unless
    /// <see cref="HttpClientName"/> names another.
    /// </summary>
    public const string DefaultHttpClientName = "BackgroundCache.TokenHub";

    /// <summary>Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that calls the hub.</summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;

    /// <summary>Gets or sets the hub's base address, e.g. <c>http://token-hub.internal:8080/</c>. Required.</summary>
    public Uri? HubAddress { get; set; }

    /// <summary>Gets or sets the API key the hub expects. Required; never logged.</summary>
    public string ApiKey { get; set; } = string.Empty;

    /// <summary>Gets or sets the header that carries the API key.</summary>
    /// <value>The default is <c>X-Api-Key</c>.</value>
    public string ApiKeyHeaderName { get; set; } = "X-Api-Key";

    /// <summary>Gets or sets the token's name on the hub, when it differs from the local cache's name.</summary>
    /// <value>The default is <see langword="null"/>: the local cache's name.</value>
    public string? TokenName { get; set; }
}
