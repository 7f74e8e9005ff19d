using System.Threading.Channels;
using BackgroundCache.Coordination;

namespace BackgroundCache.Tests.Coordination;

/// <summary>
/// A complete coordinator over <see cref="InMemoryCoordinationStore"/>: the example docs/coordination.md walks through, and
/// the reference the coordination contract tests hold Redis to. One instance per registration per "instance" (host).
/// </summary>
/// <typeparam name="T">The type of the cached values.</typeparam>
internal sealed class InMemoryCoordinator<T> : ICacheCoordinator<T>
{
    private readonly InMemoryCoordinationStore _store;
    private readonly string _space;
    private readonly string _owner = Guid.NewGuid().ToString("N");
    private readonly TimeSpan _leaseDuration;
    private readonly TimeSpan _maxWait;
    private readonly Channel<StoreEvent> _events = Channel.CreateUnbounded<StoreEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ICoordinatedValues<T>? _values;
    private IDisposable? _subscription;
    private Task _listening = Task.CompletedTask;
    private int _disposed;

    /// <param name="store">The store every instance shares.</param>
    /// <param name="space">The registration's space in the store (its name).</param>
    /// <param name="leaseDuration">How long a lease lasts without renewal, on the store's clock.</param>
    /// <param name="maxWait">How long a follower waits for the leader, in real time, before its refresh fails.</param>
    public InMemoryCoordinator(InMemoryCoordinationStore store, string space, TimeSpan leaseDuration, TimeSpan maxWait)
    {
        _store = store;
        _space = space;
        _leaseDuration = leaseDuration;
        _maxWait = maxWait;
    }

    private ICoordinatedValues<T> Values => _values ?? throw new InvalidOperationException("The coordinator has not started.");

    public ValueTask StartAsync(ICoordinatedValues<T> values, CancellationToken cancellationToken)
    {
        _values = values;
        _subscription = _store.Subscribe(_space, e => _events.Writer.TryWrite(e));

        // Rule: start adopts every still-valid stored value, so a restart makes no upstream call.
        foreach (var entry in values.Entries)
        {
            Adopt(entry);
        }

        _listening = ListenAsync(_stopping.Token);
        return default;
    }

    public async ValueTask<CoordinatedResult<T>> RefreshAsync(ICoordinatedEntry<T> entry, Func<CancellationToken, ValueTask<T>> fetch, bool forced, T? rejected, long decidedOnVersion, CancellationToken cancellationToken)
    {
        var key = entry.CoordinationKey;

        // Rule: every wait for another instance is bounded (here in real time).
        using var deadline = new CancellationTokenSource(_maxWait);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;

            // The version served here, read before the store: a request names it (below). Read after, it could be a version
            // the listener adopted from the store meanwhile, and the leader would answer that request with one more call.
            var served = Math.Max(decidedOnVersion, entry.Current?.Version ?? 0);

            // A stored version newer than the one this refresh was decided on satisfies it: no upstream call.
            if (ReadUsable(key) is { } stored && stored.Version > decidedOnVersion)
            {
                return new CoordinatedResult<T>((T)stored.Value!, stored.Version, fromUpstream: false);
            }

            // Rule: only the lease holder calls the upstream, once, and its write is fenced.
            if (_store.TryAcquireLease(_space, _owner, _leaseDuration))
            {
                return await FetchAndStoreAsync(key, fetch, decidedOnVersion, cancellationToken).ConfigureAwait(false);
            }

            // Removed on purpose meanwhile (another instance's RemoveAsync): nothing left to refresh.
            if (!ReferenceEquals(Values.Find(key), entry))
            {
                throw new InvalidOperationException($"'{Values.Name}': the key was removed.");
            }

            // Another instance leads: ask it for a value newer than the one served here (a report travels as a report),
            // then wait for the store to change.
            var kind = rejected is null ? StoreEventKind.RefreshRequested : StoreEventKind.Rejected;
            _store.Send(_space, new StoreEvent(kind, key, served));
            try
            {
                // Re-checks now and then too: a lease that lapses sends no notification.
                await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(100), waiting.Token)).ConfigureAwait(false);
                waiting.Token.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"'{Values.Name}': the instance that leads did not answer within {_maxWait}.");
            }
        }
    }

    public ValueTask RemoveAsync(string key, CancellationToken cancellationToken)
    {
        // Rule: removal propagates (every instance, this one included, hears Removed).
        _store.Remove(_space, key);
        return default;
    }

    public async ValueTask StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _events.Writer.TryComplete();
        await _listening.ConfigureAwait(false);
        _subscription?.Dispose();
        _store.ReleaseLease(_space, _owner);
    }

    public void Dispose()
    {
        // May come twice (the engine, then the service provider) and without StopAsync.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _subscription?.Dispose();
        _events.Writer.TryComplete();
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task<CoordinatedResult<T>> FetchAndStoreAsync(string key, Func<CancellationToken, ValueTask<T>> fetch, long decidedOnVersion, CancellationToken cancellationToken)
    {
        // Re-read under the lease: the previous leader may have written just before its lease lapsed.
        var stored = _store.Read(_space, key);
        if (IsUsable(stored) && stored!.Version > decidedOnVersion)
        {
            return new CoordinatedResult<T>((T)stored.Value!, stored.Version, fromUpstream: false);
        }

        var value = await fetch(cancellationToken).ConfigureAwait(false);
        var version = _store.TryWrite(_space, _owner, key, value, Values.GetExpiresAt(value), expected: stored?.Version ?? 0);
        if (version > 0)
        {
            return new CoordinatedResult<T>(value, version, fromUpstream: true);
        }

        // Rule (fencing): the lease lapsed during the call and another instance wrote; its value wins, this one is dropped.
        return ReadUsable(key) is { } newer
            ? new CoordinatedResult<T>((T)newer.Value!, newer.Version, fromUpstream: false)
            : throw new InvalidOperationException($"'{Values.Name}': this instance lost its lease during the upstream call.");
    }

    private async Task ListenAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var message in _events.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                Handle(message);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void Handle(StoreEvent message)
    {
        var values = Values;
        switch (message.Kind)
        {
            case StoreEventKind.Written:
                if (values.Find(message.Key) is { } entry)
                {
                    Adopt(entry);
                }

                break;
            case StoreEventKind.Removed:
                values.RemoveLocal(message.Key);
                break;
            default:
                Answer(values, message);
                return; // a request changes nothing in the store: waiting refreshes keep waiting
        }

        // Wakes the refreshes waiting for the store to change.
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Rule: reports and requests reach the leader, which answers with one new value for all.</summary>
    private void Answer(ICoordinatedValues<T> values, StoreEvent request)
    {
        if (!_store.TryAcquireLease(_space, _owner, _leaseDuration))
        {
            return; // not the leader
        }

        // A key this instance does not hold is added when the store has it or the requester never had a value (a new
        // key); a requester that had a value the store no longer holds asks for a key removed on purpose.
        var entry = values.Find(request.Key)
            ?? (request.Version == 0 || _store.Read(_space, request.Key) is not null ? values.GetOrAdd(request.Key) : null);
        if (entry is null)
        {
            return;
        }

        Adopt(entry);
        if (entry.Current is { } current && current.Version > request.Version)
        {
            // The requester is behind the store: tell it to read again.
            _store.Send(_space, new StoreEvent(StoreEventKind.Written, request.Key, current.Version));
        }
        else if (request.Kind == StoreEventKind.Rejected && entry.Current is { } rejected)
        {
            entry.Invalidate(rejected.Value);
        }
        else
        {
            entry.RequestRefresh();
        }
    }

    /// <summary>Rule: a follower publishes only what the store holds, with the store's version.</summary>
    private void Adopt(ICoordinatedEntry<T> entry)
    {
        if (ReadUsable(entry.CoordinationKey) is { } stored && stored.Version > (entry.Current?.Version ?? 0))
        {
            entry.PublishShared((T)stored.Value!, stored.ExpiresAt, stored.Version, force: false);
        }
    }

    private StoredValue? ReadUsable(string key)
    {
        var stored = _store.Read(_space, key);
        return IsUsable(stored) ? stored : null;
    }

    private bool IsUsable(StoredValue? stored) => stored is not null && (stored.ExpiresAt is not { } e || e > _store.Clock.GetUtcNow());
}
