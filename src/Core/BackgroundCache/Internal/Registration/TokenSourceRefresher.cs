namespace BackgroundCache.Internal;

/// <summary>
/// A refreshing cache of <see cref="AccessToken"/> fed by an <see cref="ITokenSource"/>.
/// </summary>
internal sealed class TokenSourceRefresher(ITokenSource source) : PeriodicCacheRefresher<AccessToken>, ITokenRenewalRule
{
    public ITokenSource Source { get; } = source;

    public TokenRenewal Renewal => (Source as ITokenRenewalRule)?.Renewal ?? TokenRenewal.ReplacesOnFetch;

    protected override ValueTask<AccessToken> FetchAsync(CancellationToken cancellationToken) => Source.GetTokenAsync(cancellationToken);

    protected override ValueTask<AccessToken> FetchReplacementAsync(AccessToken rejectedValue, CancellationToken cancellationToken) =>
        Source is IRejectionAwareTokenSource aware
            ? aware.GetReplacementTokenAsync(rejectedValue, cancellationToken)
            : Source.GetTokenAsync(cancellationToken);
}
