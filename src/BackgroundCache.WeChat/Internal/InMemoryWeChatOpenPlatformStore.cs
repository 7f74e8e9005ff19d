using System.Collections.Concurrent;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// The default <see cref="IWeChatOpenPlatformStore"/>: process memory only. Lost on restart and not shared between
/// instances; fine for one instance in development, not for production (see docs/wechat-open-platform.md).
/// </summary>
internal sealed class InMemoryWeChatOpenPlatformStore : IWeChatOpenPlatformStore
{
    private readonly ConcurrentDictionary<string, WeChatComponentVerifyTicket> _tickets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Component, string Authorizer), string> _refreshTokens = new();

    public ValueTask<WeChatComponentVerifyTicket?> GetTicketAsync(string componentAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        return new(_tickets.TryGetValue(componentAppId, out var ticket) ? ticket : null);
    }

    public ValueTask<bool> SetTicketAsync(string componentAppId, WeChatComponentVerifyTicket ticket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(ticket);
        while (true)
        {
            if (!_tickets.TryGetValue(componentAppId, out var stored))
            {
                if (_tickets.TryAdd(componentAppId, ticket))
                {
                    return new(true);
                }

                continue;
            }

            if (stored.CreatedAt > ticket.CreatedAt)
            {
                return new(false);
            }

            if (_tickets.TryUpdate(componentAppId, ticket, stored))
            {
                return new(true);
            }
        }
    }

    public ValueTask<string?> GetRefreshTokenAsync(string componentAppId, string authorizerAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        return new(_refreshTokens.TryGetValue((componentAppId, authorizerAppId), out var token) ? token : null);
    }

    public ValueTask SetRefreshTokenAsync(string componentAppId, string authorizerAppId, string refreshToken, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        ArgumentException.ThrowIfNullOrEmpty(refreshToken);
        _refreshTokens[(componentAppId, authorizerAppId)] = refreshToken;
        return ValueTask.CompletedTask;
    }

    public ValueTask<bool> RemoveAuthorizerAsync(string componentAppId, string authorizerAppId, string? expectedRefreshToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        var key = (componentAppId, authorizerAppId);
        return new(expectedRefreshToken is null
            ? _refreshTokens.TryRemove(key, out _)
            : _refreshTokens.TryRemove(new KeyValuePair<(string, string), string>(key, expectedRefreshToken)));
    }

    public ValueTask<IReadOnlyCollection<string>> GetAuthorizersAsync(string componentAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        IReadOnlyCollection<string> list = [.. _refreshTokens.Keys.Where(k => k.Component == componentAppId).Select(k => k.Authorizer)];
        return new(list);
    }
}
