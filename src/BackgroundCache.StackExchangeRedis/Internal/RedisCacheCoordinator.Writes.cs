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
        if (_faults.BeforeReturningShared is { } hook)
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
}
