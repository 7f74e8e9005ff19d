using System.Globalization;
using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// <see cref="IPushedTicketStore"/> and <see cref="IRefreshSecretStore"/> on Redis, knowing no provider. A ticket is a hash
/// <c>{prefix}{key}</c> (<c>value</c>, <c>created</c> in Unix ms), replaced only by a ticket at least as new, atomically. A
/// scope is one hash <c>{prefix}{scope}</c>: field <c>{key}</c> holds the secret, field <c>U+001F{key}</c> the time (Unix
/// ms) and origin of its last change, kept after a removal; one hash per scope, so every script touches one key (one
/// Cluster slot). No expiry: refresh secrets must outlive any restart.
/// </summary>
internal sealed class RedisStore(IServiceProvider services) : IPushedTicketStore, IRefreshSecretStore, IAsyncDisposable
{
    /// <summary>The first character of the metadata fields; keys must not start with it.</summary>
    public const char MetaMark = '\u001f';

    private const string SetTicketScript = """
        local created = redis.call('HGET', KEYS[1], 'created')
        if created and tonumber(created) > tonumber(ARGV[2]) then return 0 end
        redis.call('HSET', KEYS[1], 'value', ARGV[1], 'created', ARGV[2])
        return 1
        """;

    // ARGV: key, meta field, has value ('1'/'0'), value, changed (ms), origin
    private const string SetSecretScript = """
        local meta = redis.call('HGET', KEYS[1], ARGV[2])
        if meta and tonumber(string.match(meta, '^(-?%d+)')) > tonumber(ARGV[5]) then return 0 end
        if ARGV[3] == '1' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[4]) else redis.call('HDEL', KEYS[1], ARGV[1]) end
        redis.call('HSET', KEYS[1], ARGV[2], ARGV[5] .. '|' .. ARGV[6])
        return 1
        """;

    private const string ReplaceScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
        return 0
        """;

    private const string RemoveIfScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
        return 0
        """;

    private readonly RedisStoreOptions _options = services.GetRequiredService<IOptions<RedisStoreOptions>>().Value;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private IConnectionMultiplexer? _connection;
    private bool _ownsConnection;

    public async ValueTask<PushedTicket?> GetTicketAsync(string key, CancellationToken cancellationToken = default)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var fields = await db.HashGetAsync(Key(key), ["value", "created"]).ConfigureAwait(false);
        if (fields[0].IsNullOrEmpty || !long.TryParse((string?)fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var created))
        {
            return null;
        }

        return new PushedTicket(fields[0]!, DateTimeOffset.FromUnixTimeMilliseconds(created));
    }

    public async ValueTask<bool> SetTicketAsync(string key, PushedTicket ticket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var result = await db.ScriptEvaluateAsync(SetTicketScript, [Key(key)], [ticket.Value, ticket.CreatedAt.ToUnixTimeMilliseconds()]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<StoredSecret?> GetSecretAsync(string scope, string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var fields = await db.HashGetAsync(Key(scope), [key, MetaMark + key]).ConfigureAwait(false);
        if (fields[0].IsNullOrEmpty && fields[1].IsNullOrEmpty)
        {
            return null;
        }

        // A secret stored before the metadata existed has none: it counts as changed at the Unix epoch.
        var meta = (string?)fields[1] ?? string.Empty;
        var bar = meta.IndexOf('|', StringComparison.Ordinal);
        var changed = long.TryParse(bar < 0 ? meta : meta[..bar], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) ? ms : 0;
        var origin = bar < 0 || bar == meta.Length - 1 ? null : meta[(bar + 1)..];
        return new StoredSecret(fields[0].IsNullOrEmpty ? null : (string?)fields[0], DateTimeOffset.FromUnixTimeMilliseconds(changed), origin);
    }

    public async ValueTask<bool> SetSecretAsync(string scope, string key, StoredSecret secret, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(secret);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var result = await db.ScriptEvaluateAsync(
            SetSecretScript,
            [Key(scope)],
            [key, MetaMark + key, secret.Value is null ? "0" : "1", secret.Value ?? string.Empty, secret.ChangedAt.ToUnixTimeMilliseconds(), secret.Origin ?? string.Empty]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<bool> ReplaceSecretAsync(string scope, string key, string expectedValue, string newValue, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(expectedValue);
        ArgumentException.ThrowIfNullOrEmpty(newValue);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var result = await db.ScriptEvaluateAsync(ReplaceScript, [Key(scope)], [key, expectedValue, newValue]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<bool> RemoveSecretAsync(string scope, string key, string? expectedValue = null, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        if (expectedValue is null)
        {
            return await db.HashDeleteAsync(Key(scope), key).ConfigureAwait(false);
        }

        var result = await db.ScriptEvaluateAsync(RemoveIfScript, [Key(scope)], [key, expectedValue]).ConfigureAwait(false);
        return (long)result == 1;
    }

    public async ValueTask<IReadOnlyCollection<string>> GetKeysAsync(string scope, CancellationToken cancellationToken = default)
    {
        var db = await DatabaseAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<string>();
        await foreach (var entry in db.HashScanAsync(Key(scope), pageSize: 1000).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var name = (string)entry.Name!;
            if (name.Length > 0 && name[0] != MetaMark)
            {
                list.Add(name);
            }
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

    private static void CheckKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key[0] == MetaMark)
        {
            throw new ArgumentException("A key must not start with U+001F.", nameof(key));
        }
    }

    private RedisKey Key(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return _options.KeyPrefix + name;
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
                "The Redis store needs a connection: set RedisStoreOptions.Configuration, ConfigurationOptions or ConnectionMultiplexerFactory, or register an IConnectionMultiplexer."), false);
        }

        // Keep reconnecting in the background: an application must start while Redis is down (its fetches fail and retry).
        configuration.AbortOnConnectFail = false;
        return (await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false), true);
    }
}
