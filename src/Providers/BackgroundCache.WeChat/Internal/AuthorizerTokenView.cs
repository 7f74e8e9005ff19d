using System.Diagnostics.CodeAnalysis;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// One authorizer's token seen as a single cache: each call goes to the set's current entry for the key, so a key removed
/// (revoked) and added again (authorized again) is followed.
/// </summary>
internal sealed class AuthorizerTokenView(IRefreshingCacheSet<string, AccessToken> set, string authorizerAppId) : IRefreshingCache<AccessToken>
{
    public RefreshingCacheStatus Status => set.GetOrAdd(authorizerAppId).Status;

    public bool TryGetValue([MaybeNullWhen(false)] out AccessToken value) => set.TryGetValue(authorizerAppId, out value);

    public ValueTask<AccessToken> GetAsync(CancellationToken cancellationToken = default) => set.GetAsync(authorizerAppId, cancellationToken);

    public Task<AccessToken> RefreshAsync(CancellationToken cancellationToken = default) => set.GetOrAdd(authorizerAppId).RefreshAsync(cancellationToken);

    public void Invalidate(AccessToken rejectedValue) => set.GetOrAdd(authorizerAppId).Invalidate(rejectedValue);

    public Task<AccessToken> InvalidateAsync(AccessToken rejectedValue, CancellationToken cancellationToken = default) =>
        set.GetOrAdd(authorizerAppId).InvalidateAsync(rejectedValue, cancellationToken);
}
