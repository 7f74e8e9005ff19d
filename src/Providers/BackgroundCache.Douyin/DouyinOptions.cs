namespace BackgroundCache.Douyin;

/// <summary>
/// Settings of one Douyin Open Platform app whose <c>client_token</c> a cache keeps fresh. Named options: the name is the
/// token cache's name. Bindable from configuration; validated when the host starts.
/// </summary>
public sealed class DouyinOptions
{
    /// <summary>The Open Platform's address.</summary>
    public static readonly Uri DefaultBaseAddress = new("https://open.douyin.com/");

    /// <summary>
    /// The name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls use unless
    /// <see cref="HttpClientName"/> names another; registered by <c>AddDouyinClientToken</c> with no timeout of its own
    /// (<see cref="RefreshingCacheOptions.FetchTimeout"/> bounds each call).
    /// </summary>
    public const string DefaultHttpClientName = "BackgroundCache.Douyin";

    /// <summary>Gets or sets the app's client_key (its AppID in the developer console). Required.</summary>
    public string ClientKey { get; set; } = string.Empty;

    /// <summary>Gets or sets the app's client_secret (AppSecret). Required; never logged, never stored in a shared cache.</summary>
    public string ClientSecret { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets a value indicating whether the token comes from <c>oauth/stable_client_token/</c> (the same token for
    /// its whole life, a new one after it expires: instances that fetch on their own never invalidate each other) instead of
    /// <c>oauth/client_token/</c> (each fetch issues a new token and cuts the previous one to 5 minutes; only the latest two
    /// live: coordinate instances through Redis, or use a central token hub).
    /// </summary>
    /// <value>The default is <see langword="false"/> (<c>client_token</c>, which every Douyin product line documents).</value>
    public bool Stable { get; set; }

    /// <summary>Gets or sets the Open Platform's base address (or a local emulator's).</summary>
    /// <value>The default is <c>https://open.douyin.com/</c>.</value>
    public Uri BaseAddress { get; set; } = DefaultBaseAddress;

    /// <summary>Gets or sets the name of the <see cref="System.Net.Http.IHttpClientFactory"/> client that token calls go through.</summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;
}
