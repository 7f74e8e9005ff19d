namespace BackgroundCache.OAuth;

/// <summary>
/// How the client proves its identity to the token endpoint (RFC 6749 §2.3, RFC 7523).
/// </summary>
public enum ClientAuthenticationMethod
{
    /// <summary>
    /// <c>client_secret_basic</c>: the id and secret in an <c>Authorization: Basic</c> header, each form-encoded before
    /// Base64 as RFC 6749 §2.3.1 requires (a secret with <c>+</c>, <c>:</c> or <c>%</c> works).
    /// </summary>
    BasicHeader,

    /// <summary><c>client_secret_post</c>: <c>client_id</c> and <c>client_secret</c> in the form body.</summary>
    RequestBody,

    /// <summary>
    /// <c>private_key_jwt</c> (RFC 7523 §2.2): a JWT signed with the client's private key (RSA or EC) in
    /// <c>client_assertion</c>; no shared secret leaves the process.
    /// </summary>
    PrivateKeyJwt,
}
