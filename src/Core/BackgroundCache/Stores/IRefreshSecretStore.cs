namespace BackgroundCache.Stores;

/// <summary>
/// Durable store of per-key refresh secrets (<see cref="StoredSecret"/>) grouped by scope: e.g. every
/// <c>authorizer_refresh_token</c> of one WeChat third-party platform, keyed by authorizer AppId. It is the state that must
/// survive restarts (lose a refresh secret and the account must authorize again) and be shared by every instance.
/// Changes pushed by the issuer are ordered by <see cref="StoredSecret.ChangedAt"/>: a change older than the stored one
/// is refused, and a removal is remembered with its time (so a late older push cannot bring a removed key back, and a
/// late older removal cannot delete a key authorized again since).
/// </summary>
/// <remarks>
/// Implementations must be thread-safe and make each method atomic. Keys must not start with the character U+001F,
/// which stores may use for their own bookkeeping. The core registers an in-memory store
/// (<c>services.AddInMemoryStores()</c>); the Redis package a shared one (<c>services.AddRedisStore(…)</c>).
/// </remarks>
public interface IRefreshSecretStore
{
    /// <summary>Gets what is stored for a key (a removal included), or <see langword="null"/> when the key was never stored.</summary>
    /// <param name="scope">The scope, e.g. <c>wechat:open:{component_appid}:authorizers</c>.</param>
    /// <param name="key">The key, e.g. an authorizer AppId.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The stored secret, or <see langword="null"/>.</returns>
    ValueTask<StoredSecret?> GetSecretAsync(string scope, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a change (a new secret, or with <see cref="StoredSecret.Value"/> <see langword="null"/> a removal) unless the
    /// stored change is later (<see cref="StoredSecret.ChangedAt"/> greater); a change at the same time is applied.
    /// </summary>
    /// <param name="scope">The scope.</param>
    /// <param name="key">The key.</param>
    /// <param name="secret">The change.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when applied; <see langword="false"/> when a later change is kept.</returns>
    ValueTask<bool> SetSecretAsync(string scope, string key, StoredSecret secret, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a key's secret by a rotated one, only while it still holds <paramref name="expectedValue"/> (so a refresh
    /// that raced with a removal or a new authorization never overwrites it); the change's time and origin are kept.
    /// </summary>
    /// <param name="scope">The scope.</param>
    /// <param name="key">The key.</param>
    /// <param name="expectedValue">The secret the key must still hold.</param>
    /// <param name="newValue">The rotated secret.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when replaced.</returns>
    ValueTask<bool> ReplaceSecretAsync(string scope, string key, string expectedValue, string newValue, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes a key's secret (keeping the time of the last change, so older pushes stay ignored). With
    /// <paramref name="expectedValue"/>, only while the key still holds that secret, so a secret the issuer refused never
    /// deletes one a newer authorization stored meanwhile.
    /// </summary>
    /// <param name="scope">The scope.</param>
    /// <param name="key">The key.</param>
    /// <param name="expectedValue">The secret it must still hold, or <see langword="null"/> to remove whatever it holds.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when a secret was removed.</returns>
    ValueTask<bool> RemoveSecretAsync(string scope, string key, string? expectedValue = null, CancellationToken cancellationToken = default);

    /// <summary>Lists the keys of a scope that hold a secret (removed keys are not listed).</summary>
    /// <param name="scope">The scope.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The keys.</returns>
    ValueTask<IReadOnlyCollection<string>> GetKeysAsync(string scope, CancellationToken cancellationToken = default);
}
