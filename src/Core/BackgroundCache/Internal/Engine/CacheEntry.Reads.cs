using System.Diagnostics.CodeAnalysis;

namespace BackgroundCache.Internal.Engine;

/// <summary>Reads: the lock-free hit, the first-load wait and the slow path of a read that finds no value.</summary>
internal partial class CacheEntry<T>
{
    /// <summary>Reads and clears the "read since the last sweep" mark (a set's idle eviction).</summary>
    public bool TakeTouched()
    {
        if (!_touched)
        {
            return false;
        }

        _touched = false;
        return true;
    }

    /// <inheritdoc />
    public bool TryGetValue([MaybeNullWhen(false)] out T value)
    {
        if (_engine.TracksReads && !_touched)
        {
            _touched = true; // written only on the first read since the last sweep
        }

        if (!typeof(T).IsValueType && _currentValue is { } held)
        {
            value = AsT(held);
            return true;
        }

        var snapshot = _current;
        if (snapshot is null)
        {
            value = default;
            return false;
        }

        value = snapshot.Value;
        return true;
    }

    /// <inheritdoc />
    public ValueTask<T> GetAsync(CancellationToken cancellationToken = default)
    {
        if (_engine.TracksReads && !_touched)
        {
            _touched = true; // written only on the first read since the last sweep
        }

        if (!typeof(T).IsValueType && _currentValue is { } held)
        {
            return new ValueTask<T>(AsT(held));
        }

        var snapshot = _current;
        return snapshot is not null ? new ValueTask<T>(snapshot.Value) : GetSlowAsync(cancellationToken);
    }

    /// <summary>
    /// The value a reference-type <typeparamref name="T"/> keeps in <c>_currentValue</c>: written only by
    /// <see cref="SetCurrentLocked"/> from a <typeparamref name="T"/>, so no type check is needed.
    /// </summary>
    private static T AsT(object held) =>
#if NET
        System.Runtime.CompilerServices.Unsafe.As<object, T>(ref held);
#else
        (T)held;
#endif

    /// <summary>
    /// Publishes or withdraws the served snapshot. For a reference type its value is also kept beside it (null when the
    /// value is null: readers then take the snapshot). A reader that races a publish sees the old or the new value;
    /// one that races a withdrawal sees the value being withdrawn or none, as with the snapshot alone.
    /// </summary>
    private void SetCurrentLocked(CacheSnapshot<T>? snapshot)
    {
        _current = snapshot;
        if (!typeof(T).IsValueType)
        {
            _currentValue = snapshot is null ? null : snapshot.Value;
        }
    }

    /// <summary>Waits until the entry holds a value, fails for good, or stops; false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitForFirstLoadAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _engine.Time.GetUtcNow() + timeout;
        while (true)
        {
            Task changed;
            lock (Gate)
            {
                if (_current is not null || _version > 0 || _state == EntryState.Stopped || RefreshPolicy.IsPermanent(_lastError))
                {
                    return true;
                }

                changed = (Changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            var remaining = deadline - _engine.Time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await changed.WaitAsync(remaining, _engine.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    private async ValueTask<T> GetSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var snapshot = _current;
            if (snapshot is not null)
            {
                return snapshot.Value;
            }

            Task changed;
            DateTimeOffset deadline;
            var options = _engine.Options;
            var now = _engine.Time.GetUtcNow();
            lock (Gate)
            {
                if (_current is { } loaded)
                {
                    return loaded.Value;
                }

                if (_lastError is CacheKeyNotFoundException gone)
                {
                    throw Unavailable(gone.Message); // the key left its set: say why, not merely that it stopped
                }

                if (_state == EntryState.Stopped)
                {
                    throw Unavailable($"Cache '{DisplayName}' has stopped and holds no value.");
                }

                if (_version > 0)
                {
                    throw Unavailable($"Cache '{DisplayName}' has no usable value: it expired while refreshes failed ({_failures} in a row).");
                }

                if (RefreshPolicy.IsPermanent(_lastError))
                {
                    throw Unavailable($"Cache '{DisplayName}' has no value, and its last fetch failed with an error that retries will not fix.");
                }

                deadline = (StartTime ?? now) + options.InitialLoadTimeout;
                changed = (Changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            var remaining = deadline - now;
            if (remaining <= TimeSpan.Zero)
            {
                throw Unavailable($"Cache '{DisplayName}' did not load within InitialLoadTimeout ({options.InitialLoadTimeout}).");
            }

            try
            {
                await changed.WaitAsync(remaining, _engine.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw Unavailable($"Cache '{DisplayName}' did not load within InitialLoadTimeout ({options.InitialLoadTimeout}).");
            }
        }
    }

    private CacheValueUnavailableException Unavailable(string message) => new(DisplayName, message, Volatile.Read(ref _lastError) ?? _engine.SharedError);

    private static TaskCompletionSource<T> NewRequest() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Fail(TaskCompletionSource<T>? request, Exception error)
    {
        if (request is not null && request.TrySetException(error))
        {
            // Nobody may be waiting (an Invalidate); mark the exception observed so it is not reported as unobserved.
            _ = request.Task.Exception;
        }
    }
}
