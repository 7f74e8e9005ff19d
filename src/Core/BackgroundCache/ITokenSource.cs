namespace BackgroundCache;

/// <summary>
/// Fetches a new <see cref="AccessToken"/> from an upstream (an OAuth server, WeChat, a token hub).
/// </summary>
/// <remarks>
/// A token source is called only by the background refresher of a token cache
/// (see <c>AddTokenCache</c>), never on a reader's path.
/// </remarks>
public interface ITokenSource
{
    /// <summary>
    /// Fetches a token from the upstream.
    /// </summary>
    /// <param name="cancellationToken">Cancelled when the fetch times out or the host stops.</param>
    /// <returns>The token and its expiry.</returns>
    ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A token source that wants to know which token was rejected when it is asked for a replacement, e.g. a client of a
/// central token hub, which forwards the rejection so the hub refreshes once for everybody.
/// </summary>
public interface IRejectionAwareTokenSource : ITokenSource
{
    /// <summary>
    /// Fetches a token to replace <paramref name="rejectedToken"/>, which an upstream API refused.
    /// </summary>
    /// <param name="rejectedToken">The token that was refused.</param>
    /// <param name="cancellationToken">Cancelled when the fetch times out or the host stops.</param>
    /// <returns>The replacement token and its expiry.</returns>
    ValueTask<AccessToken> GetReplacementTokenAsync(AccessToken rejectedToken, CancellationToken cancellationToken);
}
