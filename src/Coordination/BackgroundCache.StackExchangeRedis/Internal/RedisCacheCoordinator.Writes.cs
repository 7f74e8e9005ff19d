using BackgroundCache.Coordination;
using System.Globalization;
using BackgroundCache.Internal;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>Reads and writes of values: fetch and store, adopt newer values, restore lost ones, repair older ones.</summary>
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
        var writeId = NewWriteId();
        long version;
        try
        {
            version = await WriteAsync(db, entry.CoordinationKey, data, expiresAt, expected, "fetch", floor: Floor(entry, state), writeId: writeId).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // The write may still happen (Redis slower than the client's timeout): never call the upstream again for it.
            MarkDown(ex);
            state.Unsynced = new Unsynced(data, expected, expiresAt, writeId);
            Log.WriteOutcomeUnknown(_logger, ex, _name, entry.CoordinationKey);
            return new CoordinatedResult<T>(value, null, true);
        }

        if (version > 0)
        {
            state.Saw(version);
            state.Unsynced = null;
            Log.Stored(_logger, _name, entry.CoordinationKey, version);
            if (_faults.AfterStoringFetched is { } hook)
            {
                await hook().ConfigureAwait(false);
            }

            return new CoordinatedResult<T>(value, version, true);
        }

        // Fenced: another instance leads or wrote since this fetch began. The script marked the stored value suspect, and
        // the leader refreshes it; until then every instance serves the stored value.
        SetLeader(false);
        Log.FencedWrite(_logger, _name, entry.CoordinationKey);
        RedisRecord? stored;
        try
        {
            stored = await ReadAsync(db, entry.CoordinationKey).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // Never a reason to call the upstream again: the fetched value is served until the leader's refresh lands.
            MarkDown(ex);
            return new CoordinatedResult<T>(value, null, true);
        }

        if (IsUsable(stored))
        {
            state.Saw(stored!.Value.Version);
            return new CoordinatedResult<T>(_serializer.Deserialize(stored.Value.Data.ToArray()), stored.Value.Version, false);
        }

        return new CoordinatedResult<T>(value, null, true);
    }

    /// <summary>The highest version this instance knows for a key: a new version is written above it.</summary>
    private static long Floor(ICoordinatedEntry<T> entry, KeyState state) => Math.Max(Interlocked.Read(ref state.Known), entry.Current?.Version ?? 0);

    /// <summary>
    /// Runs the write script: the new version, or -1 when refused (fencing; mode <c>fetch</c> then marks the stored value
    /// suspect), -2 when a restore or repair is not needed, -3 when this write (<paramref name="writeId"/>) already ran and was
    /// refused (a retry of a write whose answer was lost).
    /// </summary>
    private async Task<long> WriteAsync(IDatabase db, string key, byte[] data, DateTimeOffset? expiresAt, long expected, string mode, long keepVersion = 0, long floor = 0, string? writeId = null)
    {
        Count();
        writeId ??= NewWriteId();
        var version = (long)await db.ScriptEvaluateAsync(
            WriteScript,
            [_leaseKey, _valuesKey, _suspectKey, _genKey, _fencedKeyPrefix + writeId],
            [_owner, key, expected.ToString(CultureInfo.InvariantCulture), RedisRecord.FormatExpiry(expiresAt), data, _channelName, (long)_options.LeaseDuration.TotalMilliseconds, mode, keepVersion, NewGenerationBase(), writeId, floor, (long)FencedMarkerLifetime.TotalMilliseconds]).ConfigureAwait(false);
        MarkScriptsUp();
        return version;
    }

    /// <summary>
    /// Adopts the stored value of an entry when Redis holds a newer version than the one served, and writes the served
    /// value back when Redis holds an older one (writes lost by a failover or a restore).
    /// </summary>
    private async Task TryAdoptAsync(IDatabase db, ICoordinatedEntry<T> entry)
    {
        var stored = await ReadAsync(db, entry.CoordinationKey).ConfigureAwait(false);
        if (Adopt(entry, stored))
        {
            await RepairAsync(db, entry, stored!.Value.Version).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Adopts a stored value newer than the one served. Never adopts an older one: returns true when Redis holds a version
    /// older than the one served (and no write of this instance is pending), so the caller writes the served value back.
    /// </summary>
    private bool Adopt(ICoordinatedEntry<T> entry, RedisRecord? stored)
    {
        if (!IsUsable(stored))
        {
            return false;
        }

        var record = stored!.Value;
        var state = State(entry.CoordinationKey);
        if (state.Unsynced is { } unsynced && record.SameData(unsynced.Data))
        {
            state.Unsynced = null; // the write whose outcome was unknown did land
        }

        var current = entry.Current;
        var served = current?.Version ?? 0;
        if (record.Version == served)
        {
            state.Saw(record.Version);
            return false;
        }

        if (record.Version > served)
        {
            var value = _serializer.Deserialize(record.Data.ToArray());
            state.Saw(record.Version);
            entry.PublishShared(value, Values.GetExpiresAt(value), record.Version, force: false);
            Log.Adopted(_logger, _name, entry.CoordinationKey, record.Version);
            state.Signal();
            return false;
        }

        state.Signal();
        return state.Unsynced is null && IsServable(current);
    }

    /// <summary>Writes the served value back over an older stored version (no upstream call); every instance adopts it.</summary>
    private async Task RepairAsync(IDatabase db, ICoordinatedEntry<T> entry, long storedVersion)
    {
        if (entry.Current is not { } current || !IsServable(current))
        {
            return;
        }

        var version = await WriteAsync(db, entry.CoordinationKey, _serializer.Serialize(current.Value), current.ExpiresAt, storedVersion, "repair", current.Version).ConfigureAwait(false);
        if (version > 0)
        {
            State(entry.CoordinationKey).Saw(version);
            Log.Repaired(_logger, _name, entry.CoordinationKey, storedVersion, version);
        }
        else
        {
            // Redis changed meanwhile: take what it holds now if it is newer.
            Adopt(entry, await ReadAsync(db, entry.CoordinationKey).ConfigureAwait(false));
        }
    }

    private bool IsServable(ServedValue<T>? snapshot) => snapshot is not null && (snapshot.ExpiresAt is not { } e || e > _time.GetUtcNow());

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
            await TryAdoptAsync(db, entry).ConfigureAwait(false);
        }
    }
}
