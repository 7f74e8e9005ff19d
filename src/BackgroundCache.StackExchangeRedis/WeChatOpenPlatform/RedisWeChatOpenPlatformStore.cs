using System.Globalization;
using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// <see cref="IWeChatOpenPlatformStore"/> on Redis. Per platform: a hash <c>{prefix}wechat:open:{component_appid}:ticket</c>
/// (<c>value</c>, <c>created</c> in Unix ms; replaced only by a ticket at least as new, atomically) and a hash
/// <c>{prefix}wechat:open:{component_appid}:authorizers</c> (authorizer AppId → refresh token; compare-and-delete on
/// removal). No expiry: refresh tokens must outlive any restart.
/// </summary>
internal sealed class RedisWeChatOpenPlatformStore(IServiceProvider services) : IWeChatOpenPlatformStore, IAsyncDisposable
{
    private const string SetTicketScript = """
        local created = redis.call('HGET', KEYS[1], 'created')
        if created and tonumber(created) > tonumber(ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[1], 'value', ARGV[1], 'created', ARGV[2])
        return 1
        """;

    private const string RemoveIfScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
        return 0
        """;

    private readonly RedisWeChatOpenPlatformStoreOptions _options = services.GetRequiredService<IOptions<RedisWeChatOpenPlatformStoreOptions>>().Value;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private IConnectionMultiplexer? _connection;
    private bool _ownsConnection;

    public async ValueTask<WeChatComponentVerifyTicket?> GetTicketAsync(string componentAppId, CancellationToken cancellationToken = default)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var fields = await db.HashGetAsync(TicketKey(componentAppId), ["value", "created"]).ConfigureAwait(false);
        if (fields[0].IsNullOrEmpty || !long.TryParse((string?)fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var created))
        {
            return null;
        }

        return new WeChatComponentVerifyTicket(fields[0]!, DateTimeOffset.FromUnixTimeMilliseconds(created));
    }

    public async ValueTask<bool> SetTicketAsync(string componentAppId, WeChatComponentVerifyTicket ticket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var result = await db.ScriptEvaluateAsync(
            SetTicketScript,
            [TicketKey(componentAppId)],
            [ticket.Value, ticket.CreatedAt.ToUnixTimeMilliseconds()]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<string?> GetRefreshTokenAsync(string componentAppId, string authorizerAppId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var value = await db.HashGetAsync(AuthorizersKey(componentAppId), authorizerAppId).ConfigureAwait(false);
        return value.IsNullOrEmpty ? null : (string?)value;
    }

    public async ValueTask SetRefreshTokenAsync(string componentAppId, string authorizerAppId, string refreshToken, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        ArgumentException.ThrowIfNullOrEmpty(refreshToken);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        await db.HashSetAsync(AuthorizersKey(componentAppId), authorizerAppId, refreshToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> RemoveAuthorizerAsync(string componentAppId, string authorizerAppId, string? expectedRefreshToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(authorizerAppId);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        if (expectedRefreshToken is null)
        {
            return await db.HashDeleteAsync(AuthorizersKey(componentAppId), authorizerAppId).ConfigureAwait(false);
        }

        var result = await db.ScriptEvaluateAsync(RemoveIfScript, [AuthorizersKey(componentAppId)], [authorizerAppId, expectedRefreshToken]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<IReadOnlyCollection<string>> GetAuthorizersAsync(string componentAppId, CancellationToken cancellationToken = default)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<string>();
        await foreach (var entry in db.HashScanAsync(AuthorizersKey(componentAppId), pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            list.Add(entry.Name!);
        }

        return list;
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection && _connection is { } connection)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _connectGate.Dispose();
    }

    private RedisKey TicketKey(string componentAppId)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        return $"{_options.KeyPrefix}wechat:open:{componentAppId}:ticket";
    }

    private RedisKey AuthorizersKey(string componentAppId)
    {
        ArgumentNullException.ThrowIfNull(componentAppId);
        return $"{_options.KeyPrefix}wechat:open:{componentAppId}:authorizers";
    }

    private async ValueTask<IDatabase> DatabaseAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _connection) is { } connected)
        {
            return connected.GetDatabase();
        }

        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is null)
            {
                (_connection, _ownsConnection) = await ConnectAsync().ConfigureAwait(false);
            }

            return _connection.GetDatabase();
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private async Task<(IConnectionMultiplexer Connection, bool Owned)> ConnectAsync()
    {
        if (_options.ConnectionMultiplexerFactory is { } factory)
        {
            return (await factory().ConfigureAwait(false), false);
        }

        var configuration = _options.ConfigurationOptions?.Clone()
            ?? (_options.Configuration is { } text ? ConfigurationOptions.Parse(text) : null);
        if (configuration is null)
        {
            return (services.GetService<IConnectionMultiplexer>() ?? throw new InvalidOperationException(
                "The Redis WeChat Open Platform store needs a connection: set RedisWeChatOpenPlatformStoreOptions.Configuration, ConfigurationOptions or ConnectionMultiplexerFactory, or register an IConnectionMultiplexer."), false);
        }

        // Keep reconnecting in the background: a platform must start while Redis is down (its fetches fail and retry).
        configuration.AbortOnConnectFail = false;
        return (await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false), true);
    }
}
