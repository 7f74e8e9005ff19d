namespace BackgroundCache.Tests.Coordination;

/// <summary>
/// The store that several "instances" in one process coordinate through, as Redis is for the Redis package: per
/// registration (a space) one lease, the values with the versions the store assigns, and change notifications. The
/// lease is measured on the store's clock. Thread-safe; listeners are called outside the lock, on the writer's thread.
/// </summary>
internal sealed class InMemoryCoordinationStore(TimeProvider clock)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Space> _spaces = new(StringComparer.Ordinal);

    /// <summary>Gets the clock the store measures leases and expiries with.</summary>
    public TimeProvider Clock { get; } = clock;

    /// <summary>Takes the space's lease when it is free or lapsed, or renews it when <paramref name="owner"/> holds it.</summary>
    public bool TryAcquireLease(string space, string owner, TimeSpan duration)
    {
        lock (_gate)
        {
            var s = Get(space);
            var now = Clock.GetUtcNow();
            if (s.LeaseOwner is not null && s.LeaseOwner != owner && s.LeaseUntil > now)
            {
                return false;
            }

            s.LeaseOwner = owner;
            s.LeaseUntil = now + duration;
            return true;
        }
    }

    /// <summary>Gives the lease back, if <paramref name="owner"/> still holds it.</summary>
    public void ReleaseLease(string space, string owner)
    {
        lock (_gate)
        {
            var s = Get(space);
            if (s.LeaseOwner == owner)
            {
                s.LeaseOwner = null;
            }
        }
    }

    /// <summary>Makes the lease lapse now (what time does to a paused or dead leader's lease).</summary>
    public void LapseLease(string space)
    {
        lock (_gate)
        {
            Get(space).LeaseOwner = null;
        }
    }

    public StoredValue? Read(string space, string key)
    {
        lock (_gate)
        {
            return Get(space).Values.TryGetValue(key, out var stored) ? stored : null;
        }
    }

    /// <summary>
    /// Stores a value, fenced: only while <paramref name="owner"/> holds the lease and the stored version is still
    /// <paramref name="expected"/> (0: nothing stored). The store assigns the version, above every version it gave before.
    /// </summary>
    /// <returns>The new version, or 0 when the write was refused.</returns>
    public long TryWrite(string space, string owner, string key, object? value, DateTimeOffset? expiresAt, long expected)
    {
        long version;
        Action<StoreEvent>[] listeners;
        lock (_gate)
        {
            var s = Get(space);
            var stored = s.Values.TryGetValue(key, out var current) ? current.Version : 0;
            if (s.LeaseOwner != owner || s.LeaseUntil <= Clock.GetUtcNow() || stored != expected)
            {
                return 0;
            }

            version = ++s.LastVersion;
            s.Values[key] = new StoredValue(value, version, expiresAt);
            listeners = [.. s.Listeners];
        }

        Notify(listeners, new StoreEvent(StoreEventKind.Written, key, version));
        return version;
    }

    /// <summary>Deletes a key and tells every instance.</summary>
    public void Remove(string space, string key)
    {
        Action<StoreEvent>[] listeners;
        lock (_gate)
        {
            var s = Get(space);
            s.Values.Remove(key);
            listeners = [.. s.Listeners];
        }

        Notify(listeners, new StoreEvent(StoreEventKind.Removed, key, 0));
    }

    /// <summary>Sends a message to every instance of the space (a request to the leader, an announcement).</summary>
    public void Send(string space, StoreEvent message)
    {
        Action<StoreEvent>[] listeners;
        lock (_gate)
        {
            listeners = [.. Get(space).Listeners];
        }

        Notify(listeners, message);
    }

    /// <summary>Listens to a space's events until the returned subscription is disposed.</summary>
    public IDisposable Subscribe(string space, Action<StoreEvent> listener)
    {
        lock (_gate)
        {
            Get(space).Listeners.Add(listener);
        }

        return new Subscription(this, space, listener);
    }

    private static void Notify(Action<StoreEvent>[] listeners, StoreEvent message)
    {
        foreach (var listener in listeners)
        {
            listener(message);
        }
    }

    private Space Get(string space)
    {
        if (!_spaces.TryGetValue(space, out var s))
        {
            _spaces[space] = s = new Space();
        }

        return s;
    }

    private sealed class Space
    {
        public string? LeaseOwner { get; set; }

        public DateTimeOffset LeaseUntil { get; set; }

        public long LastVersion { get; set; }

        public Dictionary<string, StoredValue> Values { get; } = new(StringComparer.Ordinal);

        public List<Action<StoreEvent>> Listeners { get; } = [];
    }

    private sealed class Subscription(InMemoryCoordinationStore store, string space, Action<StoreEvent> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (store._gate)
            {
                store.Get(space).Listeners.Remove(listener);
            }
        }
    }
}

/// <summary>A stored value, with the version the store gave it.</summary>
internal sealed record StoredValue(object? Value, long Version, DateTimeOffset? ExpiresAt);

internal enum StoreEventKind
{
    /// <summary>A value was stored (<see cref="StoreEvent.Version"/> is its version).</summary>
    Written,

    /// <summary>A key was removed on purpose.</summary>
    Removed,

    /// <summary>An instance asks the leader for a value newer than <see cref="StoreEvent.Version"/>.</summary>
    RefreshRequested,

    /// <summary>An instance reports that the upstream refused the value of <see cref="StoreEvent.Version"/>.</summary>
    Rejected,
}

/// <summary>A notification: what happened to which key, and the version it names.</summary>
internal sealed record StoreEvent(StoreEventKind Kind, string Key, long Version);
