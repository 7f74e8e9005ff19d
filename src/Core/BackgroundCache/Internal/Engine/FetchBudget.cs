namespace BackgroundCache.Internal.Engine;

/// <summary>Something that waits in a <see cref="FetchBudget"/>'s queue for a slot.</summary>
internal interface IFetchSlotWaiter
{
    /// <summary>
    /// Takes the slot the budget hands over; false when the waiter gave up meanwhile (the slot goes to the next).
    /// <paramref name="runHere"/>: the slot comes from an attempt that just ended on this thread, which may run the waiter.
    /// </summary>
    bool TryGrant(bool runHere);
}

/// <summary>
/// A cache set's fetch budget: at most <c>MaxConcurrentFetches</c> slots held at once, the rest waiting in arrival order.
/// </summary>
/// <remarks>
/// It replaces <c>System.Threading.RateLimiting.ConcurrencyLimiter</c> (issue #21, measured in docs/benchmarks.md): there,
/// every attempt beyond the cap started, then waited inside the limiter (a request object, a task, a registration on the
/// attempt's token) and resumed through one more thread-pool hop. Here an attempt that finds no slot is not started at all:
/// its plan, which is already its thread-pool work item, waits in this queue and is queued to the pool when a finishing
/// fetch hands its slot over. Nothing is allocated per wait. The lease is one object per budget; whoever holds a slot
/// disposes it exactly once (the attempt, or the continuation of a fetch it abandoned).
/// The rare wait with a cancellation token (an attempt that waited out an abandoned fetch first) is an
/// <see cref="AcquireAsync"/> waiter in the same queue.
/// </remarks>
internal sealed class FetchBudget
{
    private readonly Lock _gate = new();
    private readonly Queue<IFetchSlotWaiter> _waiting = new();
    private readonly int _limit;
    private int _held;
    private bool _closed;

    public FetchBudget(int limit)
    {
        _limit = limit;
        Lease = new SlotLease(this);
    }

    /// <summary>Gets the lease that stands for one held slot: disposing it frees that slot (or hands it to the next waiter).</summary>
    public IDisposable Lease { get; }

    /// <summary>Gets the number of slots held (fetches in flight, including abandoned ones not yet ended).</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Gets the number of waiters.</summary>
    public int Queued
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>
    /// Takes a slot now (true), or queues <paramref name="waiter"/> (false): its <see cref="IFetchSlotWaiter.TryGrant"/> is
    /// called, outside the budget's lock, when a slot is handed to it.
    /// </summary>
    public bool TakeOrQueue(IFetchSlotWaiter waiter)
    {
        lock (_gate)
        {
            if (_held < _limit || _closed)
            {
                _held++;
                return true;
            }

            _waiting.Enqueue(waiter);
            return false;
        }
    }

    /// <summary>Waits for a slot; the returned lease frees it.</summary>
    public ValueTask<IDisposable> AcquireAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var waiter = new AsyncWaiter(Lease);
        if (TakeOrQueue(waiter))
        {
            return new ValueTask<IDisposable>(Lease);
        }

        waiter.Watch(cancellationToken);
        return new ValueTask<IDisposable>(waiter.Task);
    }

    /// <summary>
    /// Stops waiting: every waiter gets a slot at once (it then sees its attempt stopped and ends), and later takers never
    /// wait. Called when the set stops, so a fetch that never ends cannot hold the attempts queued behind it.
    /// </summary>
    public void Close()
    {
        List<IFetchSlotWaiter> granted = [];
        lock (_gate)
        {
            _closed = true;
            while (_waiting.Count > 0)
            {
                granted.Add(_waiting.Dequeue());
                _held++;
            }
        }

        foreach (var waiter in granted)
        {
            if (!waiter.TryGrant(runHere: false))
            {
                Release(runHere: false);
            }
        }
    }

    /// <summary>
    /// Frees a slot, or hands it to the first waiter. <paramref name="runHere"/>: the caller is an attempt that has ended,
    /// on a thread that may run the next one (see <see cref="IFetchSlotWaiter.TryGrant"/>).
    /// </summary>
    public void Release(bool runHere)
    {
        while (true)
        {
            IFetchSlotWaiter next;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _held--;
                    return;
                }

                next = _waiting.Dequeue(); // the slot passes to it: the count stays
            }

            if (next.TryGrant(runHere))
            {
                return;
            }
        }
    }

    private sealed class SlotLease(FetchBudget budget) : IDisposable
    {
        public void Dispose() => budget.Release(runHere: false);
    }

    /// <summary>A waiter with a cancellation token: a cancelled one stays queued and passes its turn on when reached.</summary>
    private sealed class AsyncWaiter(IDisposable lease) : TaskCompletionSource<IDisposable>(TaskCreationOptions.RunContinuationsAsynchronously), IFetchSlotWaiter
    {
        private const int Waiting = 0;
        private const int Granted = 1;
        private const int Cancelled = 2;

        private CancellationTokenRegistration _registration;
        private int _state;

        public void Watch(CancellationToken cancellationToken)
        {
            _registration = cancellationToken.Register(static s => ((AsyncWaiter)s!).Cancel(), this);
            if (Volatile.Read(ref _state) == Granted)
            {
                _registration.Dispose(); // granted before the registration was made
            }
        }

        public bool TryGrant(bool runHere)
        {
            if (Interlocked.CompareExchange(ref _state, Granted, Waiting) != Waiting)
            {
                return false;
            }

            _registration.Dispose();
            TrySetResult(lease);
            return true;
        }

        private void Cancel()
        {
            if (Interlocked.CompareExchange(ref _state, Cancelled, Waiting) == Waiting)
            {
                TrySetCanceled();
            }
        }
    }
}
