using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using BackgroundCache.Internal;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

internal sealed partial class RedisCacheCoordinator<T>
{
    private static bool IsRedisFailure(Exception ex) => ex is RedisException or RedisTimeoutException or RedisConnectionException or TimeoutException;

    private async ValueTask<CoordinatedResult<T>> RefreshDuringOutageAsync(ICoordinatedEntry<T> entry, Func<CancellationToken, ValueTask<T>> fetch, Exception error, CancellationToken cancellationToken)
    {
        var current = entry.Current;
        var local = _options.OutageBehavior switch
        {
            RedisOutageBehavior.RefreshLocally => true,
            RedisOutageBehavior.NeverRefreshLocally => false,
            _ => current is null
                 || (current.ExpiresAt is { } expiresAt && expiresAt - _time.GetUtcNow() <= _options.OutageRefreshMargin),
        };
        if (!local)
        {
            throw new RedisCoordinationException($"Cache '{_name}' cannot coordinate its refresh: Redis is unavailable. The current value keeps being served.", error);
        }

        Log.LocalRefreshDuringOutage(_logger, _name, entry.CoordinationKey);
        var value = await fetch(cancellationToken).ConfigureAwait(false);
        var state = State(entry.CoordinationKey);
        state.Unsynced = new Unsynced(_serializer.Serialize(value), Interlocked.Read(ref state.Known), Values.GetExpiresAt(value));
        return new CoordinatedResult<T>(value, null, true);
    }

    private void MarkDown(Exception error)
    {
        _metrics.RedisError(_name);
        if (_redisError is null)
        {
            Log.RedisUnavailable(_logger, error, _name);
        }

        _redisError = error;
    }

    private void MarkUp()
    {
        if (_redisError is not null)
        {
            _redisError = null;
            Log.RedisRecovered(_logger, _name);
        }
    }
}
