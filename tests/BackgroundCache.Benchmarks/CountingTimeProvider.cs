namespace BackgroundCache.Benchmarks;

/// <summary>
/// <see cref="TimeProvider.System"/> (or another provider) that counts the timers it hands out: <see cref="LiveTimers"/> is
/// <c>CreateTimer</c> calls minus the <see cref="ITimer"/>s disposed since. Task.Delay, CancellationTokenSource timeouts and
/// PeriodicTimer given this provider create their timers through it too.
/// </summary>
public sealed class CountingTimeProvider(TimeProvider inner) : TimeProvider
{
    private int _live;
    private long _created;

    /// <summary>Gets the timers created and not yet disposed.</summary>
    public int LiveTimers => Volatile.Read(ref _live);

    /// <summary>Gets the timers created in total.</summary>
    public long CreatedTimers => Interlocked.Read(ref _created);

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = inner.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _created);
        Interlocked.Increment(ref _live);
        return new CountedTimer(this, timer);
    }

    private sealed class CountedTimer(CountingTimeProvider owner, ITimer timer) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => timer.Change(dueTime, period);

        public void Dispose()
        {
            Release();
            timer.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Release();
            return timer.DisposeAsync();
        }

        private void Release()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._live);
            }
        }
    }
}
