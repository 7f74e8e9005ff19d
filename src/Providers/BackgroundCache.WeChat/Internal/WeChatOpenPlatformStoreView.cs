using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// The <see cref="IWeChatOpenPlatformStore"/> every platform registers: a WeChat-shaped view of the provider-neutral
/// <see cref="IPushedTicketStore"/> and <see cref="IRefreshSecretStore"/> that the platforms use, so reading or writing
/// through it sees exactly what the platforms see.
/// </summary>
internal sealed class WeChatOpenPlatformStoreView(IServiceProvider services) : IWeChatOpenPlatformStore
{
    private IPushedTicketStore Tickets => services.GetRequiredService<IPushedTicketStore>();

    private IRefreshSecretStore Secrets => services.GetRequiredService<IRefreshSecretStore>();

    private TimeProvider Time => services.GetRequiredService<TimeProvider>();

    public async ValueTask<WeChatComponentVerifyTicket?> GetTicketAsync(string componentAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        var ticket = await Tickets.GetTicketAsync(WeChatOpenPlatformState.TicketKey(componentAppId), cancellationToken).ConfigureAwait(false);
        return ticket is null ? null : new WeChatComponentVerifyTicket(ticket.Value, ticket.CreatedAt);
    }

    public ValueTask<bool> SetTicketAsync(string componentAppId, WeChatComponentVerifyTicket ticket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(ticket);
        return Tickets.SetTicketAsync(WeChatOpenPlatformState.TicketKey(componentAppId), new PushedTicket(ticket.Value, ticket.CreatedAt), cancellationToken);
    }

    public async ValueTask<string?> GetRefreshTokenAsync(string componentAppId, string authorizerAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        var stored = await Secrets.GetSecretAsync(WeChatOpenPlatformState.AuthorizersScope(componentAppId), authorizerAppId, cancellationToken).ConfigureAwait(false);
        return stored?.Value;
    }

    public async ValueTask SetRefreshTokenAsync(string componentAppId, string authorizerAppId, string refreshToken, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        ArgumentException.ThrowIfNullOrEmpty(refreshToken);
        await Secrets.SetSecretAsync(
            WeChatOpenPlatformState.AuthorizersScope(componentAppId),
            authorizerAppId,
            new StoredSecret(refreshToken, Time.GetUtcNow()),
            cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<bool> RemoveAuthorizerAsync(string componentAppId, string authorizerAppId, string? expectedRefreshToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        return Secrets.RemoveSecretAsync(WeChatOpenPlatformState.AuthorizersScope(componentAppId), authorizerAppId, expectedRefreshToken, cancellationToken);
    }

    public ValueTask<IReadOnlyCollection<string>> GetAuthorizersAsync(string componentAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        return Secrets.GetKeysAsync(WeChatOpenPlatformState.AuthorizersScope(componentAppId), cancellationToken);
    }
}
