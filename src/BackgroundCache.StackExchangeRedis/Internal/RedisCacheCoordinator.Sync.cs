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
}
