using BackgroundCache.Coordination;
using System.Diagnostics;
using System.Globalization;
using BackgroundCache.Internal;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>Channel messages: writes seen, requests answered, leader failures and confirmations; connection events.</summary>
internal sealed partial class RedisCacheCoordinator<T>
{
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

    // Back online (or another server now the primary): poll at once, so instances converge, and Redis is repaired, without
    // waiting for the poll interval.
    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) => _work.Writer.TryWrite(new Work(null, null));

    private void OnConfigurationChanged(object? sender, EndPointEventArgs e) => _work.Writer.TryWrite(new Work(null, null));

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
                // Writes: {kind}|{version}|{write number}:{write id}|{key}.
                var third = key.IndexOf('|', StringComparison.Ordinal);
                if (third < 0 || !TryParseWrite(key[..third], out var gen, out var writeId))
                {
                    return;
                }

                SawWrite(gen, writeId);

                await OnStoreChangedAsync(values, message[0], version, key[(third + 1)..]).ConfigureAwait(false);
                break;
            case 'a':
                await OnStoreChangedAsync(values, message[0], version, key).ConfigureAwait(false);
                break;
            case 'r' or 'i':
                await OnRequestAsync(values, message[0] == 'i', version, key).ConfigureAwait(false);
                break;
            case 'c':
                // The leader confirmed the version named within InvalidationCooldown: a report against it is answered.
                if (_keys.TryGetValue(key, out var confirmed))
                {
                    confirmed.Confirmed = new Confirmation(Stopwatch.GetTimestamp(), version);
                    confirmed.Signal();
                }

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
            // A fetch outside the fence may have replaced the stored value upstream: the leader refreshes it again, unless
            // it already answered this mark (a poll read the mark first).
            var db = await GetDatabaseAsync().ConfigureAwait(false);
            if ((_isLeader || await TryAcquireAsync(db, whenFree: true).ConfigureAwait(false)) && values.GetOrAdd(key) is { } suspect)
            {
                RefreshSuspect(suspect, version);
            }

            return;
        }

        if (values.Find(key) is { } entry)
        {
            if ((entry.Current?.Version ?? 0) < version)
            {
                await TryAdoptAsync(await GetDatabaseAsync().ConfigureAwait(false), entry).ConfigureAwait(false);
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
        var seen = current?.Version ?? 0;
        if (_faults.BeforeAnsweringRequest is { } hook)
        {
            await hook().ConfigureAwait(false);
        }

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
                await AnnounceAsync(db, current.Version, key).ConfigureAwait(false);
            }
            else if (stored.Value.Version < current.Version)
            {
                // Redis lost the write that the requester missed too: write it back (every instance adopts it).
                await RepairAsync(db, entry, stored.Value.Version).ConfigureAwait(false);
            }
            else
            {
                Adopt(entry, stored);
                await AnnounceAsync(db, stored.Value.Version, key).ConfigureAwait(false);
            }

            return;
        }

        if (rejected && valid && current!.AnswersReport && _time.GetUtcNow() - current.FetchedAt < values.Options.InvalidationCooldown)
        {
            // The upstream answered a report with this value moments ago: it stands (InvalidationCooldown); the requester
            // learns so at once instead of waiting for a change that will not come.
            Count();
            await db.PublishAsync(_channel, $"c|{current.Version.ToString(CultureInfo.InvariantCulture)}|{key}").ConfigureAwait(false);
            entry.Invalidate(current.Value); // logs the report within the cooldown
        }
        else if (rejected && valid)
        {
            entry.Invalidate(current!.Value);
        }
        else
        {
            // A refresh of this entry may end between the read above and this request: the refresh it starts then is
            // answered by the value stored above the version seen here, not by another upstream call (RefreshOnceAsync).
            var state = State(key);
            var request = new SeenRequest(seen, Stopwatch.GetTimestamp());
            state.NoteRequest(request);
            if (!entry.RequestRefresh())
            {
                state.ForgetRequest(request); // the refresh under way answers it
            }
        }
    }
}
