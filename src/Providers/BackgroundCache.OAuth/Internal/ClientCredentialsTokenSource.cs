using Microsoft.Extensions.Options;

namespace BackgroundCache.OAuth.Internal;

/// <summary>The token source of one client credentials cache: the named options, read at each fetch (reloads apply).</summary>
internal sealed class ClientCredentialsTokenSource(string name, OAuthTokenClient client, IOptionsMonitor<ClientCredentialsOptions> options)
    : ITokenSource, ITokenRenewalRule
{
    /// <summary>Gets the rule of OAuth 2.0 issuers: each client credentials request issues a new token.</summary>
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    public ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken) =>
        client.RequestTokenAsync(name, options.Get(name), cancellationToken);
}

/// <summary>
/// The keyed token source of a client credentials set: the set's named options, adjusted per key by the registration's
/// hook, validated per key (a key whose options are wrong fails at once, permanently, naming the setting).
/// </summary>
internal sealed class ClientCredentialsTokenSetSource<TKey>(
    string name,
    OAuthTokenClient client,
    IOptionsMonitor<ClientCredentialsOptions> options,
    Action<TKey, ClientCredentialsOptions> configureKey)
    : IKeyedTokenSource<TKey>, ITokenRenewalRule
    where TKey : notnull
{
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    public ValueTask<AccessToken> GetTokenAsync(TKey key, CancellationToken cancellationToken)
    {
        var effective = options.Get(name).Clone();
        configureKey(key, effective);
        var keyName = $"{name}[{key}]";
        var failures = ClientCredentialsOptionsValidator.Check(keyName, effective);
        if (failures.Count > 0)
        {
            throw new OAuthTokenException(string.Join(" ", failures), null, null, null, isTransient: false, retryAfter: null);
        }

        return client.RequestTokenAsync(keyName, effective, cancellationToken);
    }
}
