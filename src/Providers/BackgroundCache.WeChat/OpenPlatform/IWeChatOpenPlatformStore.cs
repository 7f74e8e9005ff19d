namespace BackgroundCache.WeChat;

/// <summary>
/// A WeChat-shaped view of the durable state of WeChat Open Platform third-party platforms: the latest
/// <c>component_verify_ticket</c> and each authorizer's <c>authorizer_refresh_token</c> (lose it and the account's owner
/// must authorize again). Every method takes the platform's <c>component_appid</c>. Resolve it to read or seed that state
/// (an admin page, a migration); the platforms and this view both use the provider-neutral
/// <see cref="BackgroundCache.Stores.IPushedTicketStore"/> and <see cref="BackgroundCache.Stores.IRefreshSecretStore"/>.
/// </summary>
/// <remarks>
/// To choose where the state lives, register those two stores, not this interface: in memory by default (lost on restart,
/// not shared between instances), Redis with <c>.UseRedisStore(…)</c> (package <c>BackgroundCache.StackExchangeRedis</c>),
/// or your own over a database. A platform refuses to start when another implementation of this interface is
/// registered, because it would not be used.
/// </remarks>
public interface IWeChatOpenPlatformStore
{
    /// <summary>Gets the latest ticket of a platform, or <see langword="null"/> when none has been received.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The ticket, or <see langword="null"/>.</returns>
    ValueTask<WeChatComponentVerifyTicket?> GetTicketAsync(string componentAppId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a platform's ticket unless the stored one is newer (<see cref="WeChatComponentVerifyTicket.CreatedAt"/>),
    /// so a delayed or replayed push never replaces a newer ticket.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="ticket">The ticket.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when the ticket was stored; <see langword="false"/> when a newer one is kept.</returns>
    ValueTask<bool> SetTicketAsync(string componentAppId, WeChatComponentVerifyTicket ticket, CancellationToken cancellationToken = default);

    /// <summary>Gets the refresh token of an authorizer, or <see langword="null"/> when the platform does not know it.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The authorizer's AppId.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The refresh token, or <see langword="null"/>.</returns>
    ValueTask<string?> GetRefreshTokenAsync(string componentAppId, string authorizerAppId, CancellationToken cancellationToken = default);

    /// <summary>Stores (adds or replaces) the refresh token of an authorizer.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The authorizer's AppId.</param>
    /// <param name="refreshToken">The refresh token.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the token is stored durably.</returns>
    ValueTask SetRefreshTokenAsync(string componentAppId, string authorizerAppId, string refreshToken, CancellationToken cancellationToken = default);

    /// <summary>
    /// Removes an authorizer. With <paramref name="expectedRefreshToken"/>, removes it only if it still holds that refresh
    /// token, so a refresh token that WeChat refused never deletes one a newer authorization stored meanwhile.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The authorizer's AppId.</param>
    /// <param name="expectedRefreshToken">The refresh token it must still hold, or <see langword="null"/> to remove it whatever it holds.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when the authorizer was removed.</returns>
    ValueTask<bool> RemoveAuthorizerAsync(string componentAppId, string authorizerAppId, string? expectedRefreshToken = null, CancellationToken cancellationToken = default);

    /// <summary>Lists the AppIds of a platform's authorizers (those with a stored refresh token).</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The authorizers' AppIds.</returns>
    ValueTask<IReadOnlyCollection<string>> GetAuthorizersAsync(string componentAppId, CancellationToken cancellationToken = default);
}
