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
/// it), <c>:fenced:{write id}</c> (a fetch's write that was refused, kept an hour: the write, retried after its answer was
/// lost, is known to have run). Channel <c>:events</c>, messages <c>{kind}|{version}|{key}</c> (writes <c>{kind}|{version}|{write number}|{key}</c>, so a
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
internal sealed partial class RedisCacheCoordinator<T> : ICacheCoordinator<T>
{
    private const int ResyncChunk = 500;

    /// <summary>How long Redis remembers that a fetch's write was refused (for a retry of a write whose answer was lost).</summary>
    private static readonly TimeSpan FencedMarkerLifetime = TimeSpan.FromHours(1);

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
    private readonly RedisKey _requestsKey;
    private readonly string _fencedKeyPrefix;
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
    private readonly Dictionary<long, string> _seenWrites = [];
    private long _lastGen = -1;
    private string _lastWriteId = string.Empty;
    private bool _writesLost;
    private long _messagesReceived;
    private long _commands;
    private int _subscribeStarted;
    private volatile bool _isLeader;
    private volatile Exception? _redisError;
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
        var prefix = RedisKeyNames.Registration(options.KeyPrefix, storeName ?? name);
        _leaseKey = prefix + ":lease";
        _valuesKey = prefix + ":values";
        _suspectKey = prefix + ":suspect";
        _genKey = prefix + ":gen";
        _requestsKey = prefix + ":requests";
        _fencedKeyPrefix = prefix + ":fenced:";
        _channelName = prefix + ":events";
        _channel = RedisChannel.Literal(_channelName);
        _onMessage = (_, message) =>
        {
            Interlocked.Increment(ref _messagesReceived);
            var text = message.ToString();
            _faults.OnMessage?.Invoke(text);
            if (!_faults.MessagesLost)
            {
                _work.Writer.TryWrite(new Work(text, null));
            }
        };
        metrics.Register(this);
    }

    public string Name => _name;

    public bool IsLeader => _isLeader;

    /// <summary>Gets the Redis version of the single cache's value (key <c>""</c>) this instance last saw, or 0.</summary>
    public long KnownVersion => _keys.TryGetValue(string.Empty, out var state) ? Interlocked.Read(ref state.Known) : 0;

    /// <summary>Gets the last Redis failure while Redis is unreachable, else null.</summary>
    public Exception? RedisError => _redisError;

    private ICoordinatedValues<T> Values => _values ?? throw new InvalidOperationException("The coordinator has not started.");

    public async ValueTask StartAsync(ICoordinatedValues<T> values, CancellationToken cancellationToken)
    {
        _values = values;
        _connection = await _connections.GetAsync(_options).ConfigureAwait(false);
        _connection.ConnectionFailed += OnConnectionFailed;
        _connection.ConnectionRestored += OnConnectionRestored;
        _connection.ConfigurationChanged += OnConfigurationChanged;
        await SubscribeOnceAsync(_connection).ConfigureAwait(false);
        try
        {
            // Values already stored are taken before the first fetch (no upstream call).
            var db = _connection.GetDatabase();
            await ReadGenerationAsync(db).ConfigureAwait(false);
            foreach (var entry in values.Entries)
            {
                await TryAdoptAsync(db, entry).ConfigureAwait(false);
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
        // A requested refresh (a caller waits for it) rides out a reconnect (Redis restarting, a failover) for up to
        // FetchTimeout of real time before the outage policy applies; a scheduled one falls back at once and retries later.
        var reconnectDeadline = Stopwatch.GetTimestamp() + (long)(Values.Options.FetchTimeout.TotalSeconds * Stopwatch.Frequency);

        // Another instance's request this refresh answers, if the leader asked for it (taken by any refresh, so none stays).
        var request = State(entry.CoordinationKey).TakeRequest();
        if (!forced || rejected is not null || (request is not null && Stopwatch.GetTimestamp() - request.At > RequestWait()))
        {
            request = null;
        }

        while (true)
        {
            Exception failure;
            try
            {
                return await RefreshOnceAsync(entry, fetch, rejected, decidedOnVersion, request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                failure = ex;
            }

            if (!forced || IsUnrecoverable(failure) || !await WaitForRedisAsync(reconnectDeadline, cancellationToken).ConfigureAwait(false))
            {
                MarkDown(failure);
                return await RefreshDuringOutageAsync(entry, fetch, failure, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<CoordinatedResult<T>> RefreshOnceAsync(ICoordinatedEntry<T> entry, Func<CancellationToken, ValueTask<T>> fetch, T? rejected, long decidedOnVersion, SeenRequest? request, CancellationToken cancellationToken)
    {
        var key = entry.CoordinationKey;
        var state = State(key);

        // The version this refresh must exceed, whoever delivers it: the one served when the refresh was decided.
        var baseline = decidedOnVersion;

        // Waits for another instance are bounded in real time (the leader's fetch has FetchTimeout, its lease a duration).
        var deadline = Stopwatch.GetTimestamp() + RequestWait();
        var since = Stopwatch.GetTimestamp();
        var db = await GetDatabaseAsync().ConfigureAwait(false);
        var unanswered = false;
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

            if (request is not null && IsUsable(stored) && stored!.Value.Version > request.Version && stored.Value.Version >= baseline)
            {
                // The leader read another instance's request while it served an older version, and a refresh of its own
                // stored this one before the request was acted on (the baseline moved up to it): the request is answered
                // by the stored value, announced as the leader answers a requester that is behind; no upstream call.
                MarkUp();
                await AnnounceAsync(db, stored.Value.Version, key).ConfigureAwait(false);
                Log.RequestAnsweredByStoredValue(_logger, _name, key, request.Version, stored.Value.Version);
                return await TakeAsync(state, stored.Value).ConfigureAwait(false);
            }

            if (rejected is not null && state.Confirmed is { } confirmed && confirmed.At > since && confirmed.Version == baseline
                && IsUsable(stored) && stored!.Value.Version == baseline)
            {
                // The leader confirmed the reported version within InvalidationCooldown: it stands.
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
            var asked = $"{kind}|{baseline.ToString(CultureInfo.InvariantCulture)}";
            if (unanswered)
            {
                // A request already went unanswered for a third of the lease: its message may not have reached the leader
                // (a subscription still moving to a new master after a failover). It is also stored, and the leader's
                // next renewal takes it; the message still goes too. The first request costs one command, as before.
                Count();
                await db.ScriptEvaluateAsync(StoreRequestScript, [_requestsKey], [key, asked, (long)(_options.LeaseDuration.TotalMilliseconds * 3)]).ConfigureAwait(false);
                Log.RequestStored(_logger, _name, key, baseline);
            }

            Count();
            await db.PublishAsync(_channel, $"{asked}|{key}").ConfigureAwait(false);
            Log.Forwarded(_logger, _name, key, baseline, rejected is null ? "refresh due" : "value rejected upstream");
            var left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                throw new RedisCoordinationException($"Cache '{_name}': the instance that leads did not answer a refresh request within FetchTimeout + 2 × LeaseDuration (real time).");
            }

            var wait = TimeSpan.FromSeconds(Math.Min(left / (double)Stopwatch.Frequency, TimeSpan.FromTicks(_options.LeaseDuration.Ticks / 3).TotalSeconds));
            unanswered = await Task.WhenAny(changed, Task.Delay(wait, TimeProvider.System, cancellationToken)).ConfigureAwait(false) != changed;
        }
    }

    public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken)
    {
        _keys.TryRemove(key, out _);
        try
        {
            var db = await GetDatabaseAsync().ConfigureAwait(false);
            Count();
            await db.ScriptEvaluateAsync(RemoveScript, [_valuesKey, _suspectKey, _genKey, _requestsKey], [key, _channelName, NewGenerationBase(), NewWriteId()]).ConfigureAwait(false);
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
            connection.ConfigurationChanged -= OnConfigurationChanged;
        }

        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>
    /// Where the write counter starts when the store has none (first write, or after a data loss): a random point, so a
    /// counter re-created after a loss never retraces the numbers instances saw before it (a poll would then think it
    /// had seen every write).
    /// </summary>
#pragma warning disable CA5394 // No security decision depends on it.
    private static long NewGenerationBase() => Random.Shared.Next(1, int.MaxValue) * 10_000L; // below 1e14: Lua prints it whole

    /// <summary>A write's random id, stored beside the write counter (a restored counter is told from the one seen).</summary>
    private static string NewWriteId() => Random.Shared.Next().ToString("x8", CultureInfo.InvariantCulture);
#pragma warning restore CA5394

    /// <summary>Announces that Redis holds <paramref name="version"/> of <paramref name="key"/> (<c>a|version|key</c>): a requester that is behind adopts it. Returns the number of subscribers that received it.</summary>
    private Task<long> AnnounceAsync(IDatabase db, long version, string key)
    {
        Count();
        return db.PublishAsync(_channel, $"a|{version.ToString(CultureInfo.InvariantCulture)}|{key}");
    }

    /// <summary>How long a follower waits for the leader's answer, in <see cref="Stopwatch"/> ticks (real time).</summary>
    private long RequestWait() => (long)((Values.Options.FetchTimeout + _options.LeaseDuration + _options.LeaseDuration).TotalSeconds * Stopwatch.Frequency);

    private bool IsUsable(RedisRecord? record) => record is { } r && (r.ExpiresAt is not { } e || e > _time.GetUtcNow());

    private KeyState State(string key) => _keys.GetOrAdd(key, static _ => new KeyState());

    private void Count(int commands = 1) => Interlocked.Add(ref _commands, commands);

    private async Task<IDatabase> GetDatabaseAsync() => (await _connections.GetAsync(_options).ConfigureAwait(false)).GetDatabase();

    /// <summary>A notification (<see cref="Message"/>) or a poll (null), with an optional completion for tests.</summary>
    private sealed record Work(string? Message, TaskCompletionSource? Done);

    /// <summary>The leader announced that its refresh of a key failed, and with which error type.</summary>
    private sealed record LeaderFailure(long At, string ErrorType);

    /// <summary>
    /// Another instance's request (<c>r</c>) the leader acts on by refreshing: the version the leader served when it read
    /// the request (0: none), and when (<see cref="Stopwatch"/> ticks).
    /// </summary>
    private sealed record SeenRequest(long Version, long At);

    /// <summary>The leader confirmed a reported version within InvalidationCooldown (<c>c|version|key</c>).</summary>
    private sealed record Confirmation(long At, long Version);

    /// <summary>
    /// A fetched value whose write outcome is unknown, the stored version it was meant to replace, and the id of its write
    /// (a retry reuses it, so that a write that ran, and was refused, is not refused again: that would condemn a newer value).
    /// </summary>
    private sealed record Unsynced(byte[] Data, long Expected, DateTimeOffset? ExpiresAt, string WriteId);

    /// <summary>What this instance knows of one key in Redis.</summary>
    private sealed class KeyState
    {
        public long Known;

        /// <summary>The highest suspect version this instance asked a refresh for (a newer value served since answers it).</summary>
        public long SuspectAsked;

        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile Unsynced? Unsynced;

        public volatile LeaderFailure? Failure;

        public volatile Confirmation? Confirmed;

        private SeenRequest? _request;

        public Task Changed => Volatile.Read(ref _changed).Task;

        public void Saw(long version) => Interlocked.Exchange(ref Known, version);

        public void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        /// <summary>Notes a request the refresh about to be requested answers.</summary>
        public void NoteRequest(SeenRequest request) => Volatile.Write(ref _request, request);

        /// <summary>Forgets <paramref name="request"/> if no refresh took it.</summary>
        public void ForgetRequest(SeenRequest request) => Interlocked.CompareExchange(ref _request, null, request);

        /// <summary>Forgets any request noted (a suspect stored value answers none).</summary>
        public void ForgetRequest() => Volatile.Write(ref _request, null);

        /// <summary>Takes the request noted, if any: one refresh answers it.</summary>
        public SeenRequest? TakeRequest() => Interlocked.Exchange(ref _request, null);
    }
}
