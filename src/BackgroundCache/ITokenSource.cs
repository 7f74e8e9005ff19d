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
