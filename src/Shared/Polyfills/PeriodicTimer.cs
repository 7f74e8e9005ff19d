namespace BackgroundCache.Polyfills;

/// <summary>
/// netstandard2.0 stand-in for <c>System.Threading.PeriodicTimer</c> (.NET 6+, with a <see cref="TimeProvider"/> since
/// .NET 8): ticks every period on the provider's clock; one consumer awaits <see cref="WaitForNextTickAsync"/> at a time,
/// and a tick that comes while nobody waits is kept for the next wait (several such ticks count once).
/// </summary>
internal sealed class PeriodicTimer : IDisposable
{
    private readonly object _gate = new();
    private readonly ITimer _timer;
    private Waiter? _waiter;
    private CancellationTokenRegistration _registration;
    private bool _signaled;
    private bool _stopped;

    /// <summary>Initializes a new instance of the <see cref="PeriodicTimer"/> class.</summary>
    /// <param name="period">The time between ticks; positive.</param>
    /// <param name="timeProvider">The clock.</param>
    public PeriodicTimer(TimeSpan period, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (period <= TimeSpan.Zero && period != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(period), period, "The period must be positive or infinite.");
        }

        _timer = timeProvider.CreateTimer(static s => ((PeriodicTimer)s!).Tick(), this, period, period);
    }

    /// <summary>Waits for the next tick, or for the timer to be disposed.</summary>
    /// <param name="cancellationToken">Cancels the wait (not the timer).</param>
    /// <returns><see langword="true"/> on a tick; <see langword="false"/> once the timer is disposed.</returns>
    /// <exception cref="InvalidOperationException">Another wait is in progress.</exception>
    public ValueTask<bool> WaitForNextTickAsync(CancellationToken cancellationToken = default)
    {
        Waiter waiter;
        lock (_gate)
        {
            if (_waiter is not null)
            {
                throw new InvalidOperationException("Only one wait for the next tick may be in progress.");
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return new ValueTask<bool>(Task.FromCanceled<bool>(cancellationToken));
            }

            if (_signaled)
            {
                _signaled = false;
                return new ValueTask<bool>(true);
            }

            if (_stopped)
            {
                return new ValueTask<bool>(false);
            }

            waiter = _waiter = new Waiter(this, cancellationToken);
        }

        // Registered outside the lock: a token cancelled meanwhile runs the callback right here, and it takes the lock.
        var registration = cancellationToken.Register(static s => ((Waiter)s!).Owner.Cancel((Waiter)s!), waiter);
        lock (_gate)
        {
            if (ReferenceEquals(_waiter, waiter))
            {
                _registration = registration;
                return new ValueTask<bool>(waiter.Task);
            }
        }

        // The wait ended before its registration was stored, so nothing else disposes it.
        registration.Dispose();
        return new ValueTask<bool>(waiter.Task);
    }

    /// <summary>Stops the timer; a pending wait returns <see langword="false"/>.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
        }

        _timer.Dispose();
        Complete(result: false);
    }

    private void Tick()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            if (_waiter is null)
            {
                _signaled = true;
                return;
            }
        }

        Complete(result: true);
    }

    private void Cancel(Waiter waiter)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_waiter, waiter))
            {
                return;
            }

            // This runs inside the registration's own callback, which needs no disposal.
            _waiter = null;
            _registration = default;
        }

        waiter.TrySetCanceled(waiter.Token);
    }

    private void Complete(bool result)
    {
        Waiter? waiter;
        CancellationTokenRegistration registration;
        lock (_gate)
        {
            waiter = _waiter;
            registration = _registration;
            _waiter = null;
            _registration = default;
        }

        if (waiter is not null)
        {
            // Outside the lock: disposing waits for a callback that may be running, and that callback takes the lock.
            registration.Dispose();
            waiter.TrySetResult(result);
        }
    }

    private sealed class Waiter(PeriodicTimer owner, CancellationToken token) : TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public PeriodicTimer Owner { get; } = owner;

        public CancellationToken Token { get; } = token;
    }
}
