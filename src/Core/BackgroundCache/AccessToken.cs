using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache;

/// <summary>
/// An access token and the moment it stops being accepted.
/// </summary>
/// <remarks>
/// Two tokens are equal when their <see cref="Value"/>s are equal (ordinal): an upstream such as WeChat's
/// <c>stable_token</c> returns the same token with a shorter remaining life on each call, and it is still the same token.
/// <see cref="ToString"/> never prints the token; it prints a short <see cref="Fingerprint"/> instead.
/// </remarks>
/// <param name="Value">The token itself. Treat it as a secret.</param>
/// <param name="ExpiresAt">The moment after which the upstream no longer accepts the token.</param>
public sealed record AccessToken(string Value, DateTimeOffset ExpiresAt)
{
    /// <summary>
    /// Gets the token itself. Treat it as a secret: never log it.
    /// </summary>
    public string Value { get; init; } = Value ?? throw new ArgumentNullException(nameof(Value));

    /// <summary>
    /// Gets a short, non-reversible fingerprint of the token (the first 8 hex digits of its SHA-256),
    /// safe to put in logs to tell two tokens apart.
    /// </summary>
    public string Fingerprint => ComputeFingerprint(Value);

    /// <summary>
    /// Computes the fingerprint that <see cref="Fingerprint"/> returns for any secret string.
    /// </summary>
    /// <param name="secret">The secret to fingerprint.</param>
    /// <returns>The first 8 lower-case hex digits of the SHA-256 of <paramref name="secret"/>.</returns>
    public static string ComputeFingerprint(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(secret), hash);
        return Convert.ToHexStringLower(hash[..4]);
    }

    /// <summary>
    /// Determines whether two tokens carry the same value.
    /// </summary>
    /// <param name="other">The token to compare with.</param>
    /// <returns><see langword="true"/> when both tokens have the same <see cref="Value"/>.</returns>
    public bool Equals(AccessToken? other) => other is not null && string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>
    /// Returns a description that identifies the token by its fingerprint, never by its value.
    /// </summary>
    /// <returns>A string such as <c>AccessToken { Fingerprint = 1a2b3c4d, ExpiresAt = … }</c>.</returns>
    public override string ToString() => $"AccessToken {{ Fingerprint = {Fingerprint}, ExpiresAt = {ExpiresAt:O} }}";
}
