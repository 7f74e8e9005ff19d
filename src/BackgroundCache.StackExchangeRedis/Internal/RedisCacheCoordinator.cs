using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using BackgroundCache.Coordination;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// One refresher per value across all instances, for one cache (key <c>""</c>) or one set (a key per value): a leader lease,
/// the values stored with versions Redis assigns, change notifications on one channel, and a poll that repairs whatever a
/// notification missed or Redis lost.
/// </summary>
/// <remarks>
/// <para>Keys (prefix + name): <c>:lease</c> (owner id, <c>PX</c>), <c>:values</c> (hash: key → <see cref="RedisRecord"/>),
/// <c>:suspect</c> (hash: key → a version the upstream may have replaced), <c>:gen</c> (counts the writes; a poll reads only
/// it). Channel <c>:events</c>, messages <c>{kind}|{version}|{key}</c> (writes <c>{kind}|{version}|{write number}|{key}</c>, so a
/// poll knows whether it saw every write): <c>v</c> stored, <c>a</c> announced again,
/// <c>f</c> a fetch outside the fence made the stored version suspect, <c>d</c> removed, <c>r</c> please refresh
/// (the sender holds the version named), <c>i</c> the version named was rejected upstream, <c>e</c> the leader's refresh
/// failed (<c>e|version|key|errorType</c>: waiting followers back off instead of waiting it out).</para>
/// <para>Versions come from Redis (<c>TIME</c> in microseconds, above the version replaced): compared as Redis's, they
/// stay ordered across a data loss or an empty restart. Only the lease holder calls the upstream; a write is refused when
/// another instance holds the lease or wrote since the fetch began (fencing), and then the stored value is marked suspect
/// so that the leader refreshes again: no instance keeps a token that an unfenced call is about to invalidate.</para>
/// <para>Timing: the lease and every wait for another instance run in real time (Redis measures the lease); the poll
/// interval follows the cache's <see cref="TimeProvider"/>, like its schedule.</para>
/// </remarks>
internal sealed class RedisCacheCoordinator<T> : ICacheCoordinator<T>
{
    private const string AcquireScript = """
        local current = redis.call('GET', KEYS[1])
        local ok = 0
        if current == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          ok = 1
        elseif not current and ARGV[3] == '1' then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          ok = 1
        end
        return ok
        """;

    // KEYS: lease, values, suspect, gen. ARGV: owner, key, expected version, expiresAt, data, channel, lease ms, mode,
    // and for mode 'restore' the version the value already has (a value stored again keeps its version: same value, same
    // version, on every instance).
    private const string WriteScript = """
        local lease = redis.call('GET', KEYS[1])
        local rec = redis.call('HGET', KEYS[2], ARGV[2])
        local stored = 0
        if rec then stored = tonumber(string.match(rec, '^(%d+)|')) or 0 end
        local storedText = string.format('%.0f', stored)
        if ARGV[8] == 'restore' and rec then
          return -2
        end
        if (lease and lease ~= ARGV[1]) or (rec and ARGV[3] ~= storedText) then
          if rec and ARGV[8] == 'fetch' then
            redis.call('HSET', KEYS[3], ARGV[2], storedText)
            if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SET', KEYS[4], ARGV[10]) end
            local gen = redis.call('INCR', KEYS[4])
            redis.call('PUBLISH', ARGV[6], 'f|' .. storedText .. '|' .. gen .. '|' .. ARGV[2])
          end
          return -1
        end
        if not lease then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[7])
        end
        local version
        if ARGV[8] == 'restore' and tonumber(ARGV[9]) > 0 then
          version = tonumber(ARGV[9])
        else
          local t = redis.call('TIME')
          version = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), stored + 1)
        end
        local versionText = string.format('%.0f', version)
        redis.call('HSET', KEYS[2], ARGV[2], versionText .. '|' .. ARGV[4] .. '|' .. ARGV[5])
        redis.call('HDEL', KEYS[3], ARGV[2])
        if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SET', KEYS[4], ARGV[10]) end
        local gen = redis.call('INCR', KEYS[4])
        redis.call('PUBLISH', ARGV[6], 'v|' .. versionText .. '|' .. gen .. '|' .. ARGV[2])
        return version
        """;

    private const string RemoveScript = """
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SET', KEYS[3], ARGV[3]) end
        local gen = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[2], 'd|0|' .. gen .. '|' .. ARGV[1])
        return 1
        """;

    private const string PollScript = """
        local gen = redis.call('GET', KEYS[1])
        return { gen or '-1', redis.call('HLEN', KEYS[2]), redis.call('GET', KEYS[3]) or '' }
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;

    private const int ResyncChunk = 500;

    private readonly string _name;
    private readonly RedisCoordinationOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RedisConnectionProvider _connections;
    private readonly RedisCoordinationMetrics _metrics;
    private readonly IRedisValueSerializer<T> _serializer;
    private readonly RedisKey _leaseKey;
    private readonly RedisKey _valuesKey;
    private readonly RedisKey _suspectKey;
    private readonly RedisKey _genKey;
    private readonly RedisChannel _channel;
    private readonly string _channelName;
    private readonly string _owner = Guid.NewGuid().ToString("N");
    private readonly Channel<Work> _work = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, KeyState> _keys = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Action<RedisChannel, RedisValue> _onMessage;
    private ICoordinatedValues<T>? _values;
    private IConnectionMultiplexer? _connection;
    private Task _renewLoop = Task.CompletedTask;
    private Task _workLoop = Task.CompletedTask;
    private readonly HashSet<long> _seenGens = [];
    private long _lastGen = -1;
    private long _messagesReceived;
    private long _commands;
    private int _subscribeStarted;
    private volatile bool _isLeader;
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
        IRedisValueSerializer<T> serializer,
        string? storeName = null)
    {
        _name = name;
        _options = options;
        _time = time;
        _logger = logger;
        _connections = connections;
        _metrics = metrics;
        _serializer = serializer;
        var prefix = options.KeyPrefix + (storeName ?? name);
        _leaseKey = prefix + ":lease";
        _valuesKey = prefix + ":values";
        _suspectKey = prefix + ":suspect";
        _genKey = prefix + ":gen";
        _channelName = prefix + ":events";
        _channel = RedisChannel.Literal(_channelName);
        _onMessage = (_, message) =>
        {
            Interlocked.Increment(ref _messagesReceived);
            var text = message.ToString();
            OnMessage?.Invoke(text);
            _work.Writer.TryWrite(new Work(text, null));
        };
        metrics.Register(this);
    }

    public string Name => _name;

    public bool IsLeader => _isLeader;

    /// <summary>Gets the Redis version of the single cache's value (key <c>""</c>) this instance last saw, or 0.</summary>
    public long KnownVersion => _keys.TryGetValue(string.Empty, out var state) ? Interlocked.Read(ref state.Known) : 0;

    /// <summary>Gets the last Redis failure while Redis is unreachable, else null.</summary>
    public Exception? RedisError => _redisError;

    /// <summary>Gets how many channel messages this instance received (tests: one per publish, whatever the reconnects).</summary>
    internal long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    /// <summary>Gets how many Redis commands this coordinator sent (tests: an idle instance's cost does not grow with keys).</summary>
    internal long CommandsSent => Interlocked.Read(ref _commands);

    /// <summary>Test hook: sees every channel message as it arrives.</summary>
    internal Action<string>? OnMessage { get; set; }

    /// <summary>Test hook: runs after a refresh read a newer shared value and before it returns it.</summary>
    internal Func<Task>? BeforeReturningShared { get; set; }

    private ICoordinatedValues<T> Values => _values ?? throw new InvalidOperationException("The coordinator has not started.");

    public async ValueTask StartAsync(ICoordinatedValues<T> values, CancellationToken cancellationToken)
    {
        _values = values;
        _connection = await _connections.GetAsync(_options).ConfigureAwait(false);
        _connection.ConnectionFailed += OnConnectionFailed;
        _connection.ConnectionRestored += OnConnectionRestored;
        await SubscribeOnceAsync(_connection).ConfigureAwait(false);
        try
        {
            // Values already stored are taken before the first fetch (no upstream call).
            var db = _connection.GetDatabase();
            await ReadGenerationAsync(db).ConfigureAwait(false);
            foreach (var entry in values.Entries)
            {
                await TryAdoptAsync(db, entry, force: false).ConfigureAwait(false);
            }

            MarkUp();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            MarkDown(ex);
        }

        _renewLoop = RenewLoopAsync(_stopping.Token);
        _workLoop = WorkLoopAsync(_stopping.Token);
    }

    public async ValueTask<CoordinatedResult<T>> RefreshAsync(ICoordinatedEntry<T> entry, Func<CancellationToken, ValueTask<T>> fetch, bool forced, T? rejected, long decidedOnVersion, CancellationToken cancellationToken)
    {
        var key = entry.CoordinationKey;
        var state = State(key);

        // The version this refresh must exceed, whoever delivers it: the one served when the refresh was decided.
        var baseline = decidedOnVersion;

        // Waits for another instance are bounded in real time (the leader's fetch has FetchTimeout, its lease a duration).
        var deadline = Stopwatch.GetTimestamp() + (long)((Values.Options.FetchTimeout + _options.LeaseDuration + _options.LeaseDuration).TotalSeconds * Stopwatch.Frequency);
        var since = Stopwatch.GetTimestamp();
        IDatabase db;
        try
        {
            db = await GetDatabaseAsync().ConfigureAwait(false);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var changed = state.Changed;
                if (state.Failure is { } failure && failure.At > since)
                {
                    // The leader tried and failed: the normal backoff applies here too, instead of waiting it out.
                    throw new RedisCoordinationException($"Cache '{_name}': the instance that leads failed to refresh the value ({failure.ErrorType}); the current value keeps being served.");
                }

                var stored = await ReadAsync(db, key).ConfigureAwait(false);
                if (IsUsable(stored) && stored!.Value.Version > baseline)
                {
                    MarkUp();
                    return await TakeAsync(state, stored.Value).ConfigureAwait(false);
                }

                if (await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false))
                {
                    MarkUp();

                    // Re-read after acquiring: another leader may have written just before its lease lapsed.
                    stored = await ReadAsync(db, key).ConfigureAwait(false);
                    if (IsUsable(stored) && stored!.Value.Version > baseline)
                    {
                        return await TakeAsync(state, stored.Value).ConfigureAwait(false);
                    }

                    return await FetchAndStoreAsync(db, entry, state, fetch, stored?.Version ?? 0, cancellationToken).ConfigureAwait(false);
                }

                // Another instance leads: ask it (it answers whatever version is named), then wait for a change of this key.
                MarkUp();
                var kind = rejected is null ? "r" : "i";
                Count();
                await db.PublishAsync(_channel, $"{kind}|{baseline.ToString(CultureInfo.InvariantCulture)}|{key}").ConfigureAwait(false);
                Log.Forwarded(_logger, _name, key, baseline, rejected is null ? "refresh due" : "value rejected upstream");
                var left = deadline - Stopwatch.GetTimestamp();
                if (left <= 0)
                {
                    throw new RedisCoordinationException($"Cache '{_name}': the instance that leads did not answer a refresh request within FetchTimeout + 2 × LeaseDuration (real time).");
                }

                var wait = TimeSpan.FromSeconds(Math.Min(left / (double)Stopwatch.Frequency, TimeSpan.FromTicks(_options.LeaseDuration.Ticks / 3).TotalSeconds));
                await Task.WhenAny(changed, Task.Delay(wait, TimeProvider.System, cancellationToken)).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            MarkDown(ex);
            return await RefreshDuringOutageAsync(entry, fetch, ex, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken)
    {
        _keys.TryRemove(key, out _);
        try
        {
            var db = await GetDatabaseAsync().ConfigureAwait(false);
            Count();
            await db.ScriptEvaluateAsync(RemoveScript, [_valuesKey, _suspectKey, _genKey], [key, _channelName, NewGenerationBase()]).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // The other instances keep the key until they evict it; Redis keeps the record until the next write.
            MarkDown(ex);
        }
    }

    public async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _work.Writer.TryComplete();
        await Task.WhenAll(_renewLoop, _workLoop).ConfigureAwait(false);
        if (_connection is { } connection)
        {
            try
            {
                await connection.GetSubscriber().UnsubscribeAsync(_channel, _onMessage).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                // The connection is closing anyway.
            }
        }

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

    /// <summary>Test hook: resumes renewing the lease.</summary>
    internal void ResumeRenewal() => _renewalPaused = false;

    /// <summary>Test hook: renews (or re-creates) the lease now, as the real-time renewal tick does.</summary>
    internal Task RenewNowAsync() => RenewOnceAsync();

    /// <summary>Test hook: runs a poll now, in order with the notifications, and waits for it.</summary>
    internal async Task PollNowAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_work.Writer.TryWrite(new Work(null, done)))
        {
            return;
        }

        await done.Task.ConfigureAwait(false);
    }

    /// <summary>Test hook: dies without releasing anything, as a killed process would.</summary>
    internal async Task SimulateCrashAsync()
    {
        _crashed = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _work.Writer.TryComplete();
        await Task.WhenAll(_renewLoop, _workLoop).ConfigureAwait(false);
        if (_connection is { } connection)
        {
            await connection.GetSubscriber().UnsubscribeAsync(_channel, _onMessage).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Where the write counter starts when the store has none (first write, or after a data loss): a random point, so a
    /// counter re-created after a loss never retraces the numbers instances saw before it (a poll would then think it
    /// had seen every write).
    /// </summary>
#pragma warning disable CA5394 // No security decision depends on it.
    private static long NewGenerationBase() => Random.Shared.Next(1, int.MaxValue) * 10_000L; // below 1e14: Lua prints it whole
#pragma warning restore CA5394

    private static bool IsRedisFailure(Exception ex) => ex is RedisException or RedisTimeoutException or RedisConnectionException or TimeoutException;

    private bool IsUsable(RedisRecord? record) => record is { } r && (r.ExpiresAt is not { } e || e > _time.GetUtcNow());

    private KeyState State(string key) => _keys.GetOrAdd(key, static _ => new KeyState());

    private void Count(int commands = 1) => Interlocked.Add(ref _commands, commands);

    private async Task<IDatabase> GetDatabaseAsync() => (await _connections.GetAsync(_options).ConfigureAwait(false)).GetDatabase();

    /// <summary>
    /// Subscribes once for the life of the coordinator. The client registers the handler even when the first attempt fails
    /// and subscribes again by itself after every reconnect, so a retry here would only add duplicate handlers.
    /// </summary>
    private async Task SubscribeOnceAsync(IConnectionMultiplexer connection)
    {
        if (Interlocked.Exchange(ref _subscribeStarted, 1) == 1)
        {
            return;
        }

        try
        {
            Count();
            await connection.GetSubscriber().SubscribeAsync(_channel, _onMessage).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            MarkDown(ex);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) =>
        MarkDown(e.Exception ?? new RedisConnectionException(e.FailureType, $"Connection to {e.EndPoint} failed ({e.FailureType})."));

    // Back online: poll at once, so instances converge without waiting for the poll interval.
    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => _work.Writer.TryWrite(new Work(null, null));

    private async Task<bool> TryAcquireAsync(IDatabase db, bool whenFree)
    {
        Count();
        var result = (long)await db.ScriptEvaluateAsync(AcquireScript, [_leaseKey], [_owner, (long)_options.LeaseDuration.TotalMilliseconds, whenFree ? "1" : "0"]).ConfigureAwait(false);
        SetLeader(result == 1);
        return result == 1;
    }

    private async Task<RedisRecord?> ReadAsync(IDatabase db, string key)
    {
        Count();
        return RedisRecord.Parse((byte[]?)await db.HashGetAsync(_valuesKey, key).ConfigureAwait(false));
    }

    /// <summary>Takes a stored value as this refresh's result (the entry publishes it unless it serves a newer one).</summary>
    private async Task<CoordinatedResult<T>> TakeAsync(KeyState state, RedisRecord record)
    {
        var value = _serializer.Deserialize(record.Data.ToArray());
        state.Saw(record.Version);
        if (BeforeReturningShared is { } hook)
        {
            await hook().ConfigureAwait(false);
        }

        return new CoordinatedResult<T>(value, record.Version, false);
    }

    /// <summary>
    /// Calls the upstream once and stores the result. From the call on, this attempt never calls the upstream again: a write
    /// whose outcome is unknown (a timeout) keeps the value and is reconciled later; a refused write (fencing) marks the
    /// stored value suspect so the leader refreshes again.
    /// </summary>
    private async Task<CoordinatedResult<T>> FetchAndStoreAsync(IDatabase db, ICoordinatedEntry<T> entry, KeyState state, Func<CancellationToken, ValueTask<T>> fetch, long expected, CancellationToken cancellationToken)
    {
        T value;
        try
        {
            value = await fetch(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Followers waiting for this refresh learn at once that it failed (only the error's type crosses Redis).
            try
            {
                Count();
                await db.PublishAsync(_channel, $"e|{expected.ToString(CultureInfo.InvariantCulture)}|{entry.CoordinationKey}|{ex.GetType().Name}", CommandFlags.FireAndForget).ConfigureAwait(false);
            }
            catch (Exception publish) when (IsRedisFailure(publish))
            {
                MarkDown(publish);
            }

            throw;
        }

        var expiresAt = Values.GetExpiresAt(value);
        var data = _serializer.Serialize(value);
        long version;
        try
        {
            version = await WriteAsync(db, entry.CoordinationKey, data, expiresAt, expected, "fetch").ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // The write may still happen (Redis slower than the client's timeout): never call the upstream again for it.
            MarkDown(ex);
            state.Unsynced = new Unsynced(data, expected, expiresAt);
            Log.WriteOutcomeUnknown(_logger, ex, _name, entry.CoordinationKey);
            return new CoordinatedResult<T>(value, null, true);
        }

        if (version > 0)
        {
            state.Saw(version);
            state.Unsynced = null;
            Log.Stored(_logger, _name, entry.CoordinationKey, version);
            return new CoordinatedResult<T>(value, version, true);
        }

        // Fenced: another instance leads or wrote since this fetch began. The script marked the stored value suspect, and
        // the leader refreshes it; until then every instance serves the stored value.
        SetLeader(false);
        Log.FencedWrite(_logger, _name, entry.CoordinationKey);
        var stored = await ReadAsync(db, entry.CoordinationKey).ConfigureAwait(false);
        if (IsUsable(stored))
        {
            state.Saw(stored!.Value.Version);
            return new CoordinatedResult<T>(_serializer.Deserialize(stored.Value.Data.ToArray()), stored.Value.Version, false);
        }

        return new CoordinatedResult<T>(value, null, true);
    }

    private async Task<long> WriteAsync(IDatabase db, string key, byte[] data, DateTimeOffset? expiresAt, long expected, string mode, long keepVersion = 0)
    {
        Count();
        return (long)await db.ScriptEvaluateAsync(
            WriteScript,
            [_leaseKey, _valuesKey, _suspectKey, _genKey],
            [_owner, key, expected.ToString(CultureInfo.InvariantCulture), RedisRecord.FormatExpiry(expiresAt), data, _channelName, (long)_options.LeaseDuration.TotalMilliseconds, mode, keepVersion, NewGenerationBase()]).ConfigureAwait(false);
    }

    /// <summary>Adopts the stored value of an entry when Redis holds a version this instance has not seen.</summary>
    private async Task TryAdoptAsync(IDatabase db, ICoordinatedEntry<T> entry, bool force)
    {
        var stored = await ReadAsync(db, entry.CoordinationKey).ConfigureAwait(false);
        Adopt(entry, stored, force);
    }

    private void Adopt(ICoordinatedEntry<T> entry, RedisRecord? stored, bool force)
    {
        if (!IsUsable(stored))
        {
            return;
        }

        var record = stored!.Value;
        var state = State(entry.CoordinationKey);
        if (state.Unsynced is { } unsynced && record.SameData(unsynced.Data))
        {
            state.Unsynced = null; // the write whose outcome was unknown did land
            force = true;
        }

        var served = entry.Current?.Version ?? 0;
        if (record.Version == served)
        {
            state.Saw(record.Version);
            return;
        }

        // Newer than served: adopt. Older: only when the store changed since this instance last saw it (Redis is the
        // reference, e.g. a failover to a replica whose clock is behind), never because of a late read.
        var storeChanged = record.Version != Interlocked.Read(ref state.Known);
        if (record.Version > served || (force && storeChanged))
        {
            var value = _serializer.Deserialize(record.Data.ToArray());
            state.Saw(record.Version);
            entry.PublishShared(value, Values.GetExpiresAt(value), record.Version, force: record.Version < served);
            Log.Adopted(_logger, _name, entry.CoordinationKey, record.Version);
        }

        state.Signal();
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
        state.Unsynced = new Unsynced(_serializer.Serialize(value), Interlocked.Read(ref state.Known), Values.GetExpiresAt(value));
        return new CoordinatedResult<T>(value, null, true);
    }

    private async Task RenewLoopAsync(CancellationToken stoppingToken)
    {
        // Real time: Redis measures the lease on its own clock.
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(_options.LeaseDuration.Ticks / 3), TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await RenewOnceAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task RenewOnceAsync()
    {
        if (!_isLeader || _renewalPaused)
        {
            return;
        }

        try
        {
            var db = await GetDatabaseAsync().ConfigureAwait(false);

            // A leader whose lease vanished with Redis's data takes it again (it still holds the newest values).
            await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false);
            MarkUp();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            SetLeader(false);
            MarkDown(ex);
        }
    }

    private async Task WorkLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Work? work = null;
#if NETSTANDARD2_0
                using (var poll = _time.CreateCancellationTokenSource(_options.PollInterval))
#else
                using (var poll = new CancellationTokenSource(_options.PollInterval, _time))
#endif
                using (var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, poll.Token))
                {
                    try
                    {
                        if (!await _work.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false))
                        {
                            return;
                        }

                        _work.Reader.TryRead(out work);
                    }
                    catch (OperationCanceledException) when (poll.IsCancellationRequested && !stoppingToken.IsCancellationRequested)
                    {
                        // Poll interval: check the store, in case a notification was lost or Redis lost data.
                    }
                }

                try
                {
                    if (work?.Message is { } message)
                    {
                        await HandleAsync(message).ConfigureAwait(false);
                    }
                    else
                    {
                        await PollAsync().ConfigureAwait(false);
                    }
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
                finally
                {
                    work?.Done?.TrySetResult();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            while (_work.Reader.TryRead(out var left))
            {
                left.Done?.TrySetResult();
            }
        }
    }

    private async Task ReadGenerationAsync(IDatabase db)
    {
        Count();
        var gen = await db.StringGetAsync(_genKey).ConfigureAwait(false);
        lock (_seenGens)
        {
            _lastGen = gen.TryParse(out long value) ? value : -1;
            _seenGens.Clear();
        }
    }

    /// <summary>
    /// One command when nothing changed: the write counter, the number of suspect values and the lease holder. It repairs
    /// lost notifications (re-reads every held key), a data loss (the leader, or a free lease's new holder, stores its
    /// values again), suspect values (the leader refreshes them) and unsynced writes.
    /// </summary>
    private async Task PollAsync()
    {
        var db = await GetDatabaseAsync().ConfigureAwait(false);
        Count();
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(PollScript, [_genKey, _suspectKey, _leaseKey]).ConfigureAwait(false))!;
        MarkUp();
        var gen = long.Parse((string)result[0]!, CultureInfo.InvariantCulture);
        var suspects = (long)result[1];
        var holder = (string?)result[2];
        if (holder == _owner)
        {
            SetLeader(true);
        }
        else if (!string.IsNullOrEmpty(holder))
        {
            SetLeader(false);
        }

        var values = Values;
        // In sync when every write since the last poll was notified here: each write's notification carries its number.
        bool inSync;
        lock (_seenGens)
        {
            var lastGen = _lastGen;
            inSync = gen >= 0 && lastGen >= 0 && gen >= lastGen && _seenGens.Count(g => g > lastGen && g <= gen) == gen - lastGen;
            _seenGens.RemoveWhere(g => g <= gen);
            _lastGen = gen;
        }

        var unsynced = _keys.Any(k => k.Value.Unsynced is not null);
        if (!inSync || unsynced)
        {
            await ResyncAsync(db, values, holder).ConfigureAwait(false);
        }

        if (suspects > 0)
        {
            await RefreshSuspectsAsync(db, values).ConfigureAwait(false);
        }
    }

    private async Task ResyncAsync(IDatabase db, ICoordinatedValues<T> values, string? holder)
    {
        var entries = values.Entries.ToList();
        var missing = new List<ICoordinatedEntry<T>>();
        foreach (var chunk in entries.Chunk(ResyncChunk))
        {
            Count();
            var raw = await db.HashGetAsync(_valuesKey, [.. chunk.Select(e => (RedisValue)e.CoordinationKey)]).ConfigureAwait(false);
            for (var i = 0; i < chunk.Length; i++)
            {
                var record = RedisRecord.Parse((byte[]?)raw[i]);
                if (record is null)
                {
                    missing.Add(chunk[i]);
                }
                else
                {
                    Adopt(chunk[i], record, force: true);
                }
            }
        }

        // Redis lost values this instance holds (FLUSHALL, eviction, an empty restart): the leader, or whoever takes the
        // free lease, stores them again: no upstream call, and every instance converges on them.
        var restorable = missing.Where(e => e.Current is { } c && (c.ExpiresAt is not { } x || x > _time.GetUtcNow())).ToList();
        if (restorable.Count > 0 && (holder == _owner || string.IsNullOrEmpty(holder)) && await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false))
        {
            foreach (var entry in restorable)
            {
                await RestoreAsync(db, entry).ConfigureAwait(false);
            }
        }

        // A value fetched while its write could not be confirmed (a timeout, an outage), and that did not land: store it
        // now if nobody wrote since (the lease free or ours); else the refused write marks the stored value suspect and
        // the leader refreshes again, as for any fetch outside the fence.
        foreach (var entry in entries)
        {
            var state = State(entry.CoordinationKey);
            if (state.Unsynced is not { } pending)
            {
                continue;
            }

            state.Unsynced = null;
            var version = await WriteAsync(db, entry.CoordinationKey, pending.Data, pending.ExpiresAt, pending.Expected, "fetch").ConfigureAwait(false);
            if (version > 0)
            {
                state.Saw(version);
                entry.PublishShared(_serializer.Deserialize(pending.Data), pending.ExpiresAt, version, force: true);
                Log.Stored(_logger, _name, entry.CoordinationKey, version);
            }
            else
            {
                Log.FencedWrite(_logger, _name, entry.CoordinationKey);
            }
        }
    }

    private async Task RestoreAsync(IDatabase db, ICoordinatedEntry<T> entry)
    {
        if (entry.Current is not { } current)
        {
            return;
        }

        var version = await WriteAsync(db, entry.CoordinationKey, _serializer.Serialize(current.Value), current.ExpiresAt, 0, "restore", current.Version).ConfigureAwait(false);
        if (version > 0)
        {
            State(entry.CoordinationKey).Saw(version);
            State(entry.CoordinationKey).Unsynced = null;
            entry.PublishShared(current.Value, current.ExpiresAt, version, force: true);
            Log.Restored(_logger, _name, entry.CoordinationKey, version);
        }
        else
        {
            await TryAdoptAsync(db, entry, force: true).ConfigureAwait(false);
        }
    }

    private async Task RefreshSuspectsAsync(IDatabase db, ICoordinatedValues<T> values)
    {
        Count();
        var suspects = await db.HashGetAllAsync(_suspectKey).ConfigureAwait(false);
        if (suspects.Length == 0 || !(_isLeader || await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false)))
        {
            return;
        }

        foreach (var suspect in suspects)
        {
            if (values.GetOrAdd(suspect.Name.ToString()) is { } entry)
            {
                entry.RequestRefresh();
            }
        }
    }

    private async Task HandleAsync(string message)
    {
        var first = message.IndexOf('|', StringComparison.Ordinal);
        var second = first < 0 ? -1 : message.IndexOf('|', first + 1);
        if (first != 1 || second < 0 || !long.TryParse(message.AsSpan(2, second - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return;
        }

        var key = message[(second + 1)..];
        var values = Values;
        switch (message[0])
        {
            case 'v' or 'f' or 'd':
                // Writes: {kind}|{version}|{write number}|{key}.
                var third = key.IndexOf('|', StringComparison.Ordinal);
                if (third < 0 || !long.TryParse(key.AsSpan(0, third), NumberStyles.None, CultureInfo.InvariantCulture, out var gen))
                {
                    return;
                }

                lock (_seenGens)
                {
                    _seenGens.Add(gen);
                }

                await OnStoreChangedAsync(values, message[0], version, key[(third + 1)..]).ConfigureAwait(false);
                break;
            case 'a':
                await OnStoreChangedAsync(values, message[0], version, key).ConfigureAwait(false);
                break;
            case 'r' or 'i':
                await OnRequestAsync(values, message[0] == 'i', version, key).ConfigureAwait(false);
                break;
            case 'e':
                var separator = key.LastIndexOf('|');
                if (separator >= 0 && _keys.TryGetValue(key[..separator], out var failed))
                {
                    failed.Failure = new LeaderFailure(Stopwatch.GetTimestamp(), key[(separator + 1)..]);
                    failed.Signal();
                }

                break;
        }
    }

    private async Task OnStoreChangedAsync(ICoordinatedValues<T> values, char kind, long version, string key)
    {
        if (kind == 'd')
        {
            _keys.TryRemove(key, out var removed);
            values.RemoveLocal(key);
            removed?.Signal();
            return;
        }

        if (kind == 'f')
        {
            // A fetch outside the fence may have replaced the stored value upstream: the leader refreshes it again.
            var db = await GetDatabaseAsync().ConfigureAwait(false);
            if ((_isLeader || await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false)) && values.GetOrAdd(key) is { } suspect)
            {
                suspect.RequestRefresh();
            }

            return;
        }

        if (values.Find(key) is { } entry)
        {
            if ((entry.Current?.Version ?? 0) < version)
            {
                await TryAdoptAsync(await GetDatabaseAsync().ConfigureAwait(false), entry, force: false).ConfigureAwait(false);
            }
        }

        if (_keys.TryGetValue(key, out var state))
        {
            state.Signal();
        }
    }

    /// <summary>Answers another instance's request whatever version it names: the leader re-announces, restores or refreshes.</summary>
    private async Task OnRequestAsync(ICoordinatedValues<T> values, bool rejected, long version, string key)
    {
        var db = await GetDatabaseAsync().ConfigureAwait(false);
        if (!_isLeader && !await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false))
        {
            return;
        }

        if (values.GetOrAdd(key) is not { } entry)
        {
            return;
        }

        var current = entry.Current;
        var valid = current is not null && (current.ExpiresAt is not { } e || e > _time.GetUtcNow());
        if (valid && current!.Version > version)
        {
            // The requester is behind: make sure Redis holds this value and announce it.
            var stored = await ReadAsync(db, key).ConfigureAwait(false);
            if (stored is null)
            {
                await RestoreAsync(db, entry).ConfigureAwait(false);
            }
            else if (stored.Value.Version == current.Version)
            {
                Count();
                await db.PublishAsync(_channel, $"a|{current.Version.ToString(CultureInfo.InvariantCulture)}|{key}").ConfigureAwait(false);
            }
            else
            {
                Adopt(entry, stored, force: true);
                Count();
                await db.PublishAsync(_channel, $"a|{stored.Value.Version.ToString(CultureInfo.InvariantCulture)}|{key}").ConfigureAwait(false);
            }

            return;
        }

        if (rejected && valid)
        {
            entry.Invalidate(current!.Value);
        }
        else
        {
            entry.RequestRefresh();
        }
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
    }

    private void MarkUp()
    {
        if (_redisError is not null)
        {
            _redisError = null;
            Log.RedisRecovered(_logger, _name);
        }
    }

    /// <summary>A notification (<see cref="Message"/>) or a poll (null), with an optional completion for tests.</summary>
    private sealed record Work(string? Message, TaskCompletionSource? Done);

    /// <summary>The leader announced that its refresh of a key failed, and with which error type.</summary>
    private sealed record LeaderFailure(long At, string ErrorType);

    /// <summary>A fetched value whose write outcome is unknown, and the stored version it was meant to replace.</summary>
    private sealed record Unsynced(byte[] Data, long Expected, DateTimeOffset? ExpiresAt);

    /// <summary>What this instance knows of one key in Redis.</summary>
    private sealed class KeyState
    {
        public long Known;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile Unsynced? Unsynced;

        public volatile LeaderFailure? Failure;

        public Task Changed => Volatile.Read(ref _changed).Task;

        public void Saw(long version) => Interlocked.Exchange(ref Known, version);

        public void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }
}
