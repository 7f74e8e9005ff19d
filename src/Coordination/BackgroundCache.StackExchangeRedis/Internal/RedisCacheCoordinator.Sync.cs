using BackgroundCache.Coordination;
using System.Globalization;
using BackgroundCache.Internal;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>The work loop, the poll (is this instance in sync with Redis?) and the resync that repairs what it missed.</summary>
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
        var text = (string?)await db.StringGetAsync(_genKey).ConfigureAwait(false);
        lock (_seenWrites)
        {
            (_lastGen, _lastWriteId) = text is not null && TryParseWrite(text, out var gen, out var writeId) ? (gen, writeId) : (-1L, string.Empty);
            _seenWrites.Clear();
            _writesLost = false;
        }
    }

    /// <summary>Parses a write's <c>{count}:{id}</c> (a counter written before write ids existed has no id).</summary>
    private static bool TryParseWrite(string text, out long gen, out string writeId)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        writeId = colon < 0 ? string.Empty : text[(colon + 1)..];
        return long.TryParse(colon < 0 ? text : text[..colon], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out gen);
    }

    /// <summary>
    /// Notes a write's notification. A write number seen before with another id, or the number of the last poll with
    /// another id, means that Redis lost writes and counted again from an older state (a restore, a failover).
    /// </summary>
    private void SawWrite(long gen, string writeId)
    {
        lock (_seenWrites)
        {
            if ((_seenWrites.TryGetValue(gen, out var seen) && seen != writeId) || (gen == _lastGen && writeId != _lastWriteId))
            {
                _writesLost = true;
            }

            _seenWrites[gen] = writeId;
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
        MarkScriptsUp();
        if (!TryParseWrite((string)result[0]!, out var gen, out var writeId))
        {
            gen = -1;
        }

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
        // In sync when every write since the last poll was notified here (each write's notification carries its number and
        // id) and Redis still holds the last of them: a counter restored from an older state (a snapshot restore, a replica
        // that missed writes promoted) holds another id, or a lower number than writes already seen.
        bool inSync;
        lock (_seenWrites)
        {
            var lastGen = _lastGen;
            inSync = !_writesLost && gen >= 0 && lastGen >= 0 && gen >= lastGen
                && !_seenWrites.Keys.Any(g => g > gen)
                && (gen == lastGen
                    ? writeId == _lastWriteId
                    : _seenWrites.Count(w => w.Key > lastGen && w.Key <= gen) == gen - lastGen && _seenWrites[gen] == writeId);
            if (inSync)
            {
                foreach (var old in _seenWrites.Keys.Where(g => g <= gen).ToList())
                {
                    _seenWrites.Remove(old);
                }
            }
            else
            {
                _seenWrites.Clear();
            }

            _lastGen = gen;
            _lastWriteId = writeId;
            _writesLost = false;
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
        var older = new List<(ICoordinatedEntry<T> Entry, long StoredVersion)>();
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
                else if (Adopt(chunk[i], record))
                {
                    older.Add((chunk[i], record.Value.Version));
                }
            }
        }

        // Redis holds an older value than this instance serves (writes lost by a failover or a restore): write the served
        // value back, never adopt the older one (the upstream may have condemned it).
        foreach (var (entry, storedVersion) in older)
        {
            await RepairAsync(db, entry, storedVersion).ConfigureAwait(false);
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

            // The same write id as the write whose answer was lost: if that one ran and was refused, this one is not refused
            // again (which would mark the value stored since, newer than this one, suspect). A failure here keeps the value
            // unsynced for the next poll.
            var version = await WriteAsync(db, entry.CoordinationKey, pending.Data, pending.ExpiresAt, pending.Expected, "fetch", floor: Floor(entry, state), writeId: pending.WriteId).ConfigureAwait(false);
            if (ReferenceEquals(state.Unsynced, pending))
            {
                state.Unsynced = null;
            }

            if (version > 0)
            {
                state.Saw(version);
                entry.PublishShared(_serializer.Deserialize(pending.Data), pending.ExpiresAt, version, force: true);
                Log.Stored(_logger, _name, entry.CoordinationKey, version);
            }
            else if (version == -1)
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

        // The marks were read: the leader's answer to one of them (a refresh asked by the mark's notification) may land
        // before they are acted on, and RefreshSuspect then leaves it (no second upstream call for one mark).
        if (_faults.BeforeRefreshingSuspects is { } hook)
        {
            await hook().ConfigureAwait(false);
        }

        foreach (var suspect in suspects)
        {
            if (values.GetOrAdd(suspect.Name.ToString()) is { } entry)
            {
                RefreshSuspect(entry, suspect.Value.TryParse(out long version) ? version : long.MaxValue);
            }
        }
    }

    /// <summary>
    /// Answers a suspect mark (the upstream may have replaced the stored <paramref name="suspectVersion"/>), from its
    /// notification or from a poll: asks for a refresh while this instance serves that version or an older one. A newer
    /// version served after this instance asked a refresh for the mark is its answer (the poll read the mark, or a second
    /// notification named it, before the answer landed): asking again would call the upstream once more and condemn the
    /// answer. A newer version this instance did not ask for (a write whose fetch may have begun before the mark) does not
    /// answer it: the refresh is asked, as before.
    /// </summary>
    /// <remarks>Runs on the work loop only, so the marks this instance asked for need no lock beyond the read.</remarks>
    private void RefreshSuspect(ICoordinatedEntry<T> entry, long suspectVersion)
    {
        var state = State(entry.CoordinationKey);
        state.ForgetRequest(); // a suspect stored value answers no request
        if ((entry.Current?.Version ?? 0) > suspectVersion && Interlocked.Read(ref state.SuspectAsked) >= suspectVersion)
        {
            return;
        }

        if (entry.RequestRefresh() && suspectVersion != long.MaxValue && Interlocked.Read(ref state.SuspectAsked) < suspectVersion)
        {
            Interlocked.Exchange(ref state.SuspectAsked, suspectVersion);
        }
    }
}
