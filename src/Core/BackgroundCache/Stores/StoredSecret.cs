namespace BackgroundCache.Stores;

/// <summary>
/// What an <see cref="IRefreshSecretStore"/> holds for one key: its long-lived refresh secret (a WeChat
/// <c>authorizer_refresh_token</c>, a WeCom <c>permanent_code</c>), or none after a removal, with the time of the change
/// that set it, so that a late or repeated push older than that change is recognised and ignored.
/// <see cref="ToString"/> never prints the secret.
/// </summary>
/// <param name="Value">The secret, or <see langword="null"/> when the key was removed (the time of the removal is kept).</param>
/// <param name="ChangedAt">When the change happened, by the issuer's clock for a pushed change (e.g. a push's <c>CreateTime</c>).</param>
/// <param name="Origin">
/// An identifier of what produced the change, e.g. a fingerprint of the authorization code that was exchanged, so that a
/// repeated push is recognised as already applied; <see langword="null"/> when unknown. Never a secret.
/// </param>
public sealed record StoredSecret(string? Value, DateTimeOffset ChangedAt, string? Origin = null)
{
    /// <summary>Returns a description that identifies the secret by its fingerprint, never by its value.</summary>
    /// <returns>A string such as <c>StoredSecret { Fingerprint = 1a2b3c4d, ChangedAt = …, Origin = … }</c>.</returns>
    public override string ToString() =>
        $"StoredSecret {{ Fingerprint = {(Value is null ? "(removed)" : AccessToken.ComputeFingerprint(Value))}, ChangedAt = {ChangedAt:O}, Origin = {Origin} }}";
}
