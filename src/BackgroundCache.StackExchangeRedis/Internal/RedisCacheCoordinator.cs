using System.Globalization;
using System.Threading.Channels;
using BackgroundCache.Internal;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// One refresher per value across all instances: a fenced leader lease in Redis, the value stored with a version,
/// change notifications on a channel, and a poll in case one is lost.
/// </summary>
/// <remarks>
/// <para>Keys: <c>{prefix}{name}:lease</c> (owner id, <c>PX</c>), <c>{prefix}{name}:value</c> (hash: version, data,
/// expiresAt). Channel <c>{prefix}{name}:events</c>: <c>v:N</c> (version N stored), <c>r:N</c> (please refresh version N),
/// <c>i:N</c> (version N was rejected upstream).</para>
/// <para>Only the lease holder calls the upstream. A write is accepted only while the writer still holds the lease (checked
/// atomically in Lua) and always gets the next version, so an instance that lost its lease cannot overwrite a newer
/// value. The lease is measured by Redis in real time, so its renewal runs on the system clock.</para>
/// </remarks>
internal sealed class RedisCacheCoordinator<T> : ICacheCoordinator<T>
{
    private const string AcquireScript = """
        local current = redis.call('GET', KEYS[1])
        if current == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if not current then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          return 1
        end
        return 0
        """;

    private const string WriteScript = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then
          return -1
        end
        local version = math.max(tonumber(redis.call('HGET', KEYS[2], 'version') or '0'), tonumber(ARGV[5])) + 1
        redis.call('HSET', KEYS[2], 'version', version, 'data', ARGV[2], 'expiresAt', ARGV[3])
        redis.call('PUBLISH', ARGV[4], 'v:' .. version)
        return version
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    private readonly string _name;
    private readonly RedisCoordinationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisConnectionProvider _connections;
    private readonly RedisCoordinationMetrics _metrics;
    private readonly IRedisValueSerializer<T> _serializer;
    private readonly RedisKey _leaseKey;
    private readonly RedisKey _valueKey;
    private readonly RedisChannel _channel;
    private readonly string _owner = Guid.NewGuid().ToString("N");
    private readonly Channel<string> _messages = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private ICoordinatedCache<T>? _cache;
    private IConnectionMultiplexer? _connection;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _renewLoop = Task.CompletedTask;
    private Task _messageLoop = Task.CompletedTask;
    private long _knownVersion;
    private long _remoteRequestVersion = -1;
    private volatile bool _isLeader;
    private volatile bool _subscribed;
    private volatile Exception? _redisError;
    private volatile bool _renewalPaused;
    private bool _crashed;
    private int _disposed;

    public RedisCacheCoordinator(
        string name,
        RedisCoordinationOptions options,
        TimeProvider time,
        ILogger logger,
        RedisConnectionProvider connections,
        RedisCoordinationMetrics metrics,
        IRedisValueSerializer<T> serializer)
    {
        _name = name;
        _options = options;
        _time = time;
        _logger = logger;
        _connections = connections;
        _metrics = metrics;
        _serializer = serializer;
        var prefix = options.KeyPrefix + name;
        _leaseKey = prefix + ":lease";
        _valueKey = prefix + ":value";
        _channel = RedisChannel.Literal(prefix + ":events");
        metrics.Register(this);
    }

    public string Name => _name;

    public bool IsLeader => _isLeader;

    public long KnownVersion => Interlocked.Read(ref _knownVersion);

    /// <summary>Gets the last Redis failure while Redis is unreachable, else null.</summary>
    public Exception? RedisError => _redisError;

    private ICoordinatedCache<T> Cache => _cache ?? throw new InvalidOperationException("The coordinator has not started.");

    public async ValueTask StartAsync(ICoordinatedCache<T> cache, CancellationToken cancellationToken)
    {
        _cache = cache;
        _connection = await _connections.GetAsync(_options).ConfigureAwait(false);
        _connection.ConnectionFailed += OnConnectionFailed;
        _connection.ConnectionRestored += OnConnectionRestored;
        try
        {
            await TrySubscribeAsync().ConfigureAwait(false);
            await TryAdoptAsync().ConfigureAwait(false);
            MarkUp();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            MarkDown(ex);
        }

        _renewLoop = RenewLoopAsync(_stopping.Token);
        _messageLoop = MessageLoopAsync(_stopping.Token);
    }

    public async ValueTask<CoordinatedResult<T>> RefreshAsync(Func<CancellationToken, ValueTask<T>> fetch, bool forced, T? rejected, long decidedOnVersion, CancellationToken cancellationToken)
    {
        var cache = Cache;

        // The version this refresh must exceed, whoever delivers it (this loop, or a notification handled meanwhile):
        // - scheduled or rejected: the one served when the refresh was decided (a newer one adopted since satisfies it);
        // - asked for by another instance: the one it named;
        // - forced here: the newest known.
        var remote = Interlocked.Exchange(ref _remoteRequestVersion, -1);
        var baseline = !forced || rejected is not null
            ? Math.Min(KnownVersion, decidedOnVersion)
            : remote >= 0 ? remote : KnownVersion;
        var rejectedVersion = rejected is null ? (long?)null : baseline;
        try
        {
            var db = await GetDatabaseAsync().ConfigureAwait(false);
            await TrySubscribeAsync().ConfigureAwait(false);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (await TryTakeNewerAsync(db, baseline).ConfigureAwait(false) is { } shared)
                {
                    MarkUp();
                    return shared;
                }

                if (await TryAcquireAsync(db).ConfigureAwait(false))
                {
                    MarkUp();

                    // Re-check after acquiring: another leader may have written just before its lease lapsed.
                    if (await TryTakeNewerAsync(db, baseline).ConfigureAwait(false) is { } written)
                    {
                        return written;
                    }

                    var value = await fetch(cancellationToken).ConfigureAwait(false);
                    var version = await WriteAsync(db, value, cache.GetExpiresAt(value), baseline).ConfigureAwait(false);
                    if (version > 0)
                    {
                        SetKnownVersion(version);
                        Log.Stored(_logger, _name, version);
                        return new CoordinatedResult<T>(value, version, true);
                    }

                    Log.FencedWrite(_logger, _name);
                    SetLeader(false);
                    return await TryTakeNewerAsync(db, baseline).ConfigureAwait(false)
                        ?? throw new RedisCoordinationException($"Cache '{_name}' lost its lease while fetching; its value was not stored.");
                }

                // Another instance leads: ask it to refresh, then wait for its new version (or for its lease to lapse).
                MarkUp();
                var changed = Volatile.Read(ref _changed).Task;
                var reason = rejectedVersion is null ? "refresh due" : "value rejected upstream";
                await db.PublishAsync(_channel, (rejectedVersion is null ? "r:" : "i:") + baseline.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
                Log.Forwarded(_logger, _name, baseline, reason);
                var wait = _options.LeaseDuration / 3;
                await Task.WhenAny(changed, Task.Delay(wait, TimeProvider.System, cancellationToken)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            MarkDown(ex);
            return await RefreshDuringOutageAsync(fetch, ex, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _messages.Writer.TryComplete();
        await Task.WhenAll(_renewLoop, _messageLoop).ConfigureAwait(false);
        if (_crashed || !_isLeader)
        {
            return;
        }

        try
        {
            var db = await GetDatabaseAsync().ConfigureAwait(false);
            await db.ScriptEvaluateAsync(ReleaseScript, [_leaseKey], [_owner]).ConfigureAwait(false);
            SetLeader(false);
            Log.LeaseReleased(_logger, _name);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // The lease lapses on its own.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _metrics.Unregister(this);
        if (_connection is { } connection)
        {
            connection.ConnectionFailed -= OnConnectionFailed;
            connection.ConnectionRestored -= OnConnectionRestored;
        }

        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>Test hook: stops renewing the lease, as a paused process would.</summary>
    internal void PauseRenewal() => _renewalPaused = true;

    /// <summary>Test hook: dies without releasing anything, as a killed process would.</summary>
    internal async Task SimulateCrashAsync()
    {
        _crashed = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _messages.Writer.TryComplete();
        await Task.WhenAll(_renewLoop, _messageLoop).ConfigureAwait(false);
        var subscriber = (await _connections.GetAsync(_options).ConfigureAwait(false)).GetSubscriber();
        await subscriber.UnsubscribeAsync(_channel).ConfigureAwait(false);
    }

    private async Task<IDatabase> GetDatabaseAsync() => (await _connections.GetAsync(_options).ConfigureAwait(false)).GetDatabase();

    /// <summary>Subscribes to the cache's channel if not yet done; a failure is not fatal (the poll retries it).</summary>
    private async Task TrySubscribeAsync()
    {
        if (_subscribed)
        {
            return;
        }

        try
        {
            var subscriber = (await _connections.GetAsync(_options).ConfigureAwait(false)).GetSubscriber();
            await subscriber.SubscribeAsync(_channel, (_, message) => _messages.Writer.TryWrite(message.ToString())).ConfigureAwait(false);
            _subscribed = true;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            _metrics.RedisError(_name);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) =>
        MarkDown(e.Exception ?? new RedisConnectionException(e.FailureType, $"Connection to {e.EndPoint} failed ({e.FailureType})."));

    // Back online: re-read at once (a poll), so instances converge without waiting for the poll interval.
    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => _messages.Writer.TryWrite("poll");

    private async Task<bool> TryAcquireAsync(IDatabase db)
    {
        var result = (long)await db.ScriptEvaluateAsync(AcquireScript, [_leaseKey], [_owner, (long)_options.LeaseDuration.TotalMilliseconds]).ConfigureAwait(false);
        SetLeader(result == 1);
        return result == 1;
    }

    /// <summary>
    /// Stores a value if this instance still holds the lease; its version follows both the stored one and the writer's
    /// <paramref name="floor"/>, so versions keep growing even if Redis lost its data.
    /// </summary>
    private async Task<long> WriteAsync(IDatabase db, T value, DateTimeOffset? expiresAt, long floor)
    {
        var data = _serializer.Serialize(value);
        var expires = expiresAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? string.Empty;
        return (long)await db.ScriptEvaluateAsync(WriteScript, [_leaseKey, _valueKey], [_owner, data, expires, _channel.ToString(), floor]).ConfigureAwait(false);
    }

    /// <summary>Reads the stored value; returns it when its version is above <paramref name="baseline"/> and it has not expired.</summary>
    private async Task<CoordinatedResult<T>?> TryTakeNewerAsync(IDatabase db, long baseline)
    {
        var fields = await db.HashGetAsync(_valueKey, ["version", "data", "expiresAt"]).ConfigureAwait(false);
        if (fields[0].IsNull || !fields[0].TryParse(out long version) || fields[1].IsNull || version <= baseline)
        {
            return null;
        }

        var expiresAt = fields[2].IsNullOrEmpty ? (DateTimeOffset?)null : DateTimeOffset.FromUnixTimeMilliseconds((long)fields[2]);
        if (expiresAt is { } e && e <= _time.GetUtcNow())
        {
            return null;
        }

        var value = _serializer.Deserialize((byte[])fields[1]!);
        SetKnownVersion(version);
        return new CoordinatedResult<T>(value, version, false);
    }

    private async Task TryAdoptAsync()
    {
        var db = await GetDatabaseAsync().ConfigureAwait(false);
        if (await TryTakeNewerAsync(db, KnownVersion).ConfigureAwait(false) is { } shared)
        {
            Cache.PublishShared(shared.Value, Cache.GetExpiresAt(shared.Value), shared.Version!.Value);
            Log.Adopted(_logger, _name, shared.Version.Value);
        }
    }

    private async ValueTask<CoordinatedResult<T>> RefreshDuringOutageAsync(Func<CancellationToken, ValueTask<T>> fetch, Exception error, CancellationToken cancellationToken)
    {
        var cache = Cache;
        var local = _options.OutageBehavior switch
        {
            RedisOutageBehavior.RefreshLocally => true,
            RedisOutageBehavior.NeverRefreshLocally => false,
            _ => !cache.TryGetValue(out _)
                 || (cache.Status.ExpiresAt is { } expiresAt && expiresAt - _time.GetUtcNow() <= _options.OutageRefreshMargin),
        };
        if (!local)
        {
            throw new RedisCoordinationException($"Cache '{_name}' cannot coordinate its refresh: Redis is unavailable. The current value keeps being served.", error);
        }

        Log.LocalRefreshDuringOutage(_logger, _name);
        var value = await fetch(cancellationToken).ConfigureAwait(false);
        return new CoordinatedResult<T>(value, null, true);
    }

    private async Task RenewLoopAsync(CancellationToken stoppingToken)
    {
        // Real time: Redis measures the lease on its own clock.
        using var timer = new PeriodicTimer(_options.LeaseDuration / 3, TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                if (!_isLeader || _renewalPaused)
                {
                    continue;
                }

                try
                {
                    var db = await GetDatabaseAsync().ConfigureAwait(false);
                    await TryAcquireAsync(db).ConfigureAwait(false);
                    MarkUp();
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    SetLeader(false);
                    MarkDown(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task MessageLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                string? message = null;
                using (var poll = new CancellationTokenSource(_options.PollInterval, _time))
                using (var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, poll.Token))
                {
                    try
                    {
                        if (await _messages.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false))
                        {
                            _messages.Reader.TryRead(out message);
                        }
                        else
                        {
                            return;
                        }
                    }
                    catch (OperationCanceledException) when (poll.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
                    {
                        // Poll interval: re-read, in case a notification was lost.
                    }
                }

                try
                {
                    await HandleAsync(message).ConfigureAwait(false);
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    MarkDown(ex);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // A bad stored value or a bug must not end the loop: the next poll tries again.
                    Log.MessageFailed(_logger, ex, _name);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task HandleAsync(string? message)
    {
        if (message is null or "poll")
        {
            await TrySubscribeAsync().ConfigureAwait(false);
            await TryAdoptAsync().ConfigureAwait(false);
            MarkUp();
            return;
        }

        if (message.Length < 3 || !long.TryParse(message.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return;
        }

        switch (message[0])
        {
            case 'v':
                if (version > KnownVersion)
                {
                    await TryAdoptAsync().ConfigureAwait(false);
                }

                Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                break;
            case 'r' when _isLeader && version == KnownVersion:
                // The refresh this creates runs next and wants a version above the one named (see RefreshAsync).
                Interlocked.Exchange(ref _remoteRequestVersion, version);
                if (!Cache.RequestRefresh())
                {
                    Interlocked.Exchange(ref _remoteRequestVersion, -1); // one is already under way
                }

                break;
            case 'i' when _isLeader && version == KnownVersion && Cache.TryGetValue(out var current):
                Cache.Invalidate(current);
                break;
        }
    }

    private void SetKnownVersion(long version)
    {
        long known;
        do
        {
            known = Interlocked.Read(ref _knownVersion);
        }
        while (version > known && Interlocked.CompareExchange(ref _knownVersion, version, known) != known);
    }

    private void SetLeader(bool leader)
    {
        if (_isLeader == leader)
        {
            return;
        }

        _isLeader = leader;
        _metrics.LeaseChanged(_name, leader);
        if (leader)
        {
            Log.LeaseAcquired(_logger, _name, _owner[..8]);
        }
        else
        {
            Log.LeaseLost(_logger, _name, _owner[..8]);
        }
    }

    private void MarkDown(Exception error)
    {
        _metrics.RedisError(_name);
        if (_redisError is null)
        {
            Log.RedisUnavailable(_logger, error, _name);
        }

        _redisError = error;
        _subscribed = false;
    }

    private void MarkUp()
    {
        if (_redisError is not null)
        {
            _redisError = null;
            Log.RedisRecovered(_logger, _name);
        }
    }

    private static bool IsRedisFailure(Exception ex) => ex is RedisException or RedisTimeoutException or RedisConnectionException or TimeoutException;
}
