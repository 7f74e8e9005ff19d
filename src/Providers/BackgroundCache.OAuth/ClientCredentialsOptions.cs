using System.Security.Cryptography.X509Certificates;

namespace BackgroundCache.OAuth;

/// <summary>
/// Options of one OAuth 2.0 client credentials token (RFC 6749 §4.4): where to ask, who asks, for what. Bound from
/// configuration (<c>AddClientCredentialsToken(name, section)</c>) or set in code, and validated when the host starts: a
/// missing or contradictory setting fails start with a message that names it.
/// </summary>
public sealed class ClientCredentialsOptions
{
    /// <summary>The name of the <c>IHttpClientFactory</c> client that token and discovery calls use by default.</summary>
    public const string DefaultHttpClientName = "BackgroundCache.OAuth";

    /// <summary>
    /// Gets or sets the token endpoint, e.g. <c>https://idp.example.com/oauth2/token</c>. Set this or
    /// <see cref="Authority"/>, not both.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? TokenEndpoint { get; set; }

    /// <summary>
    /// Gets or sets the issuer whose OpenID Connect discovery document (<c>.well-known/openid-configuration</c>) names the
    /// token endpoint. The document is read at the first token call and again after <see cref="DiscoveryCacheDuration"/>;
    /// when it cannot be read then, the endpoint already known keeps being used. Set this or <see cref="TokenEndpoint"/>.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? Authority { get; set; }

    /// <summary>Gets or sets the client identifier. Required.</summary>
    /// <value>The default is an empty string.</value>
    public string ClientId { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the client secret, required for <see cref="ClientAuthenticationMethod.BasicHeader"/> and
    /// <see cref="ClientAuthenticationMethod.RequestBody"/>. Never logged, never put in an exception or a metric.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? ClientSecret { get; set; }

    /// <summary>Gets or sets the space-separated scopes to ask for (<c>scope</c>), or <see langword="null"/> for the client's default.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? Scope { get; set; }

    /// <summary>Gets or sets the resource indicator (RFC 8707 <c>resource</c>, an absolute URI), or <see langword="null"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? Resource { get; set; }

    /// <summary>
    /// Gets extra form parameters sent with each token request (e.g. <c>audience</c> for issuers that use it). They may not
    /// replace the parameters this library sets (<c>grant_type</c>, <c>client_id</c>, <c>client_secret</c>,
    /// <c>client_assertion</c>, <c>client_assertion_type</c>, <c>scope</c>, <c>resource</c>).
    /// </summary>
    public IDictionary<string, string> Parameters { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets how the client authenticates to the token endpoint.</summary>
    /// <value>The default is <see cref="ClientAuthenticationMethod.BasicHeader"/> (<c>client_secret_basic</c>).</value>
    public ClientAuthenticationMethod ClientAuthentication { get; set; } = ClientAuthenticationMethod.BasicHeader;

    /// <summary>
    /// Gets or sets the PEM private key (RSA or EC; PKCS#8 <c>PRIVATE KEY</c>, <c>RSA PRIVATE KEY</c> or
    /// <c>EC PRIVATE KEY</c>) that signs the client assertion of <see cref="ClientAuthenticationMethod.PrivateKeyJwt"/>;
    /// or set <see cref="Certificate"/>. PEM keys need .NET 5 or later: on .NET Framework (the netstandard2.0 build) use
    /// <see cref="Certificate"/>.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? PrivateKey { get; set; }

    /// <summary>
    /// Gets or sets a certificate with its private key (RSA or EC) that signs the client assertion of
    /// <see cref="ClientAuthenticationMethod.PrivateKeyJwt"/>; its SHA-1 thumbprint goes in the <c>x5t</c> header and, unless
    /// <see cref="KeyId"/> is set, the <c>kid</c> header. Set in code (configuration cannot hold a certificate).
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>Gets or sets the <c>kid</c> header of the client assertion (the key's id in the JWKS the issuer knows), or <see langword="null"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? KeyId { get; set; }

    /// <summary>
    /// Gets or sets the JWS algorithm of the client assertion: <c>RS256</c>, <c>RS384</c>, <c>RS512</c>, <c>PS256</c>,
    /// <c>PS384</c>, <c>PS512</c> for RSA keys; <c>ES256</c>, <c>ES384</c>, <c>ES512</c> for EC keys (the curve decides).
    /// </summary>
    /// <value>The default is <see langword="null"/>: <c>RS256</c> for an RSA key, the curve's <c>ES…</c> for an EC key.</value>
    public string? SigningAlgorithm { get; set; }

    /// <summary>
    /// Gets or sets the audience (<c>aud</c>) of the client assertion, or <see langword="null"/> for the issuer identifier
    /// that discovery names (with <see cref="Authority"/>, as RFC 7523bis requires), else the token endpoint (RFC 7523 §3).
    /// Servers that follow RFC 7523bis (OpenIddict 7) accept only the issuer: with <see cref="TokenEndpoint"/> set this to
    /// the issuer identifier.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? ClientAssertionAudience { get; set; }

    /// <summary>
    /// Gets or sets the <c>typ</c> header of the client assertion. The default is the explicit type of RFC 7523bis, which
    /// recent servers (OpenIddict 7, Duende IdentityServer 7) accept or require; set <c>JWT</c> for a server that wants
    /// the generic type.
    /// </summary>
    /// <value>The default is <c>client-authentication+jwt</c>.</value>
    public string ClientAssertionTokenType { get; set; } = "client-authentication+jwt";

    /// <summary>Gets or sets how long a client assertion is valid.</summary>
    /// <value>The default is 5 minutes.</value>
    public TimeSpan ClientAssertionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets the name of the <c>IHttpClientFactory</c> client that token and discovery calls go through (add a proxy,
    /// handlers or resilience to it).
    /// </summary>
    /// <value>The default is <see cref="DefaultHttpClientName"/>.</value>
    public string HttpClientName { get; set; } = DefaultHttpClientName;

    /// <summary>
    /// Gets or sets the lifetime assumed for a token whose answer has no <c>expires_in</c> and that is not a JWT with an
    /// <c>exp</c> claim.
    /// </summary>
    /// <value>The default is 1 hour.</value>
    public TimeSpan DefaultLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Gets or sets how long the discovery document of <see cref="Authority"/> is used before it is read again.</summary>
    /// <value>The default is 24 hours.</value>
    public TimeSpan DiscoveryCacheDuration { get; set; } = TimeSpan.FromHours(24);

    internal ClientCredentialsOptions Clone()
    {
        var copy = new ClientCredentialsOptions
        {
            TokenEndpoint = TokenEndpoint,
            Authority = Authority,
            ClientId = ClientId,
            ClientSecret = ClientSecret,
            Scope = Scope,
            Resource = Resource,
            ClientAuthentication = ClientAuthentication,
            PrivateKey = PrivateKey,
            Certificate = Certificate,
            KeyId = KeyId,
            SigningAlgorithm = SigningAlgorithm,
            ClientAssertionAudience = ClientAssertionAudience,
            ClientAssertionLifetime = ClientAssertionLifetime,
            ClientAssertionTokenType = ClientAssertionTokenType,
            HttpClientName = HttpClientName,
            DefaultLifetime = DefaultLifetime,
            DiscoveryCacheDuration = DiscoveryCacheDuration,
        };
        foreach (var pair in Parameters)
        {
            copy.Parameters[pair.Key] = pair.Value;
        }

        return copy;
    }
}
