using BackgroundCache.Coordination;
using System.Diagnostics;
using BackgroundCache.Internal;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>Redis failures: which errors pass and which no retry fixes, the outage policy, the health state.</summary>
internal sealed partial class RedisCacheCoordinator<T>
{
    /// <summary>Server errors that pass (a restart loading its data, a failover, a busy script): waiting helps.</summary>
    private static readonly string[] TransientServerErrors = ["LOADING", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK", "NOREPLICAS", "UNBLOCKED"];

    /// <summary>
    /// Any error from Redis or the client, including those no retry fixes (a command the deployment refuses, e.g. keys in
    /// several hash slots): each counts as a Redis failure (outage policy, health), never as a failed fetch.
    /// </summary>
    private static bool IsRedisFailure(Exception ex) => ex is RedisException or RedisTimeoutException or RedisConnectionException or RedisCommandException or TimeoutException;

    /// <summary>An error that waiting does not fix (CROSSSLOT, WRONGTYPE, NOPERM, a command the client refuses).</summary>
    private static bool IsUnrecoverable(Exception ex) =>
        ex is RedisCommandException
        || (ex is RedisServerException server && !TransientServerErrors.Any(code => server.Message.StartsWith(code, StringComparison.Ordinal)));

    /// <summary>
    /// Waits, in real time and until <paramref name="deadline"/> at most, for Redis to be reachable again; false when the
    /// deadline passed first.
    /// </summary>
    private async Task<bool> WaitForRedisAsync(long deadline, CancellationToken cancellationToken)
    {
        var left = deadline - Stopwatch.GetTimestamp();
        if (left <= 0)
        {
            return false;
        }

        var wait = TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency);
        if (_connection is { IsConnected: false } connection)
        {
            var restored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            void OnRestored(object? sender, ConnectionFailedEventArgs e) => restored.TrySetResult();
            connection.ConnectionRestored += OnRestored;
            try
            {
                if (!connection.IsConnected)
                {
                    await Task.WhenAny(restored.Task, Task.Delay(wait, TimeProvider.System, cancellationToken)).ConfigureAwait(false);
                }
            }
            finally
            {
                connection.ConnectionRestored -= OnRestored;
            }
        }
        else
        {
            // Connected but refused (a replica being promoted, a restart still loading): try again shortly.
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds, 100)), TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return Stopwatch.GetTimestamp() < deadline || _connection is { IsConnected: true };
    }

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
        state.Unsynced = new Unsynced(_serializer.Serialize(value), Interlocked.Read(ref state.Known), Values.GetExpiresAt(value), NewWriteId());
        return new CoordinatedResult<T>(value, null, true);
    }

    private void MarkDown(Exception error)
    {
        _metrics.RedisError(_name);
        if (IsUnrecoverable(error))
        {
            if (_redisError is null || !IsUnrecoverable(_redisError))
            {
                Log.RedisRefused(_logger, error, _name, error.GetType().Name);
            }
        }
        else if (_redisError is not null && IsUnrecoverable(_redisError))
        {
            return; // the refusal is the finding that matters; it clears when the scripts work again
        }
        else if (_redisError is null)
        {
            Log.RedisUnavailable(_logger, error, _name);
        }

        _redisError = error;
    }

    /// <summary>Gets a value indicating whether the last Redis failure is one that no retry fixes (health: Unhealthy).</summary>
    public bool RedisRefuses => _redisError is { } error && IsUnrecoverable(error);

    /// <summary>
    /// A command succeeded. An unrecoverable error stays until a script over several keys succeeds
    /// (<see cref="MarkScriptsUp"/>): a single-key command working says nothing about the scripts.
    /// </summary>
    private void MarkUp()
    {
        if (_redisError is { } error && !IsUnrecoverable(error))
        {
            _redisError = null;
            Log.RedisRecovered(_logger, _name);
        }
    }

    /// <summary>A script over several of the registration's keys succeeded: every Redis failure is over.</summary>
    private void MarkScriptsUp()
    {
        if (_redisError is not null)
        {
            _redisError = null;
            Log.RedisRecovered(_logger, _name);
        }
    }
}
