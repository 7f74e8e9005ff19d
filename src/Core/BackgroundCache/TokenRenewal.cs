using System.Globalization;

namespace BackgroundCache;

/// <summary>
/// How an issuer renews its tokens, which decides when fetching again is worth a call.
/// </summary>
public enum TokenRenewalKind
{
    /// <summary>
    /// Each fetch issues a new token; the previous one keeps working for a short overlap (WeChat's classic
    /// <c>cgi-bin/token</c>, Douyin's <c>client_token</c>, OAuth 2.0 client credentials). The token is refreshed
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead of its expiry.
    /// </summary>
    ReplacesOnFetch,

    /// <summary>
    /// A fetch returns the token already issued, with less life left, until the issuer's renewal window opens near its
    /// expiry; a fetch inside the window returns a new token (WeChat's <c>stable_token</c>: 5 minutes, Feishu/Lark and
    /// Douyin's component token: 30 minutes). The refresher never fetches before the window: when
    /// <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> is longer than the window, the refresh waits for it.
    /// </summary>
    SameUntilWindow,

    /// <summary>
    /// A fetch returns the same token with its expiry pushed out (DingTalk's <c>gettoken</c>). Refreshing ahead as usual
    /// costs nothing extra.
    /// </summary>
    ExtendedOnFetch,
}

/// <summary>
/// An issuer's token renewal rule, declared by a token source through <see cref="ITokenRenewalRule"/> so that the refresher
/// never fetches a token the issuer would only hand back unchanged.
/// </summary>
/// <remarks>
/// A source that declares nothing is treated as <see cref="ReplacesOnFetch"/>.
/// </remarks>
public sealed class TokenRenewal : IEquatable<TokenRenewal>
{
    private TokenRenewal(TokenRenewalKind kind, TimeSpan window)
    {
        Kind = kind;
        Window = window;
    }

    /// <summary>Gets the rule of issuers that issue a new token on each fetch.</summary>
    public static TokenRenewal ReplacesOnFetch { get; } = new(TokenRenewalKind.ReplacesOnFetch, TimeSpan.Zero);

    /// <summary>Gets the rule of issuers that return the same token with a later expiry on each fetch.</summary>
    public static TokenRenewal ExtendedOnFetch { get; } = new(TokenRenewalKind.ExtendedOnFetch, TimeSpan.Zero);

    /// <summary>Gets the kind of rule.</summary>
    public TokenRenewalKind Kind { get; }

    /// <summary>
    /// Gets, for <see cref="TokenRenewalKind.SameUntilWindow"/>, how long before its expiry the issuer starts handing out a
    /// new token (WeChat <c>stable_token</c>: 5 minutes); <see cref="TimeSpan.Zero"/> for the other kinds.
    /// </summary>
    public TimeSpan Window { get; }

    /// <summary>
    /// Gets the rule of issuers that return the same token until <paramref name="window"/> before its expiry, and a new one
    /// from then on.
    /// </summary>
    /// <param name="window">How long before its expiry the issuer renews a token; positive.</param>
    /// <returns>The rule.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is zero or negative.</exception>
    public static TokenRenewal SameUntilWindow(TimeSpan window)
    {
        if (window <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "The renewal window must be positive.");
        }

        return new TokenRenewal(TokenRenewalKind.SameUntilWindow, window);
    }

    /// <inheritdoc />
    public bool Equals(TokenRenewal? other) => other is not null && other.Kind == Kind && other.Window == Window;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as TokenRenewal);

    /// <inheritdoc />
    public override int GetHashCode() => ((int)Kind * 397) ^ Window.GetHashCode();

    /// <summary>Describes the rule, e.g. <c>SameUntilWindow(00:05:00)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => Kind == TokenRenewalKind.SameUntilWindow
        ? "SameUntilWindow(" + Window.ToString("c", CultureInfo.InvariantCulture) + ")"
        : Kind.ToString();
}

/// <summary>
/// Implemented by a token source (an <see cref="ITokenSource"/>, an <see cref="IKeyedTokenSource{TKey}"/> or a
/// <see cref="PeriodicCacheRefresher{T}"/>) to declare its issuer's renewal rule; see <see cref="TokenRenewal"/>.
/// </summary>
public interface ITokenRenewalRule
{
    /// <summary>
    /// Gets the issuer's renewal rule. Read after each fetch, so a source whose mode can change (a reloaded option) may
    /// answer differently over time.
    /// </summary>
    TokenRenewal Renewal { get; }
}
