using System.Collections.Concurrent;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>Where the ledger's counts live: this process (<see cref="MemoryQuotaStore"/>) or Redis, shared by every hub.</summary>
internal interface IQuotaStore
{
    /// <summary>Adds one call to the window that starts at <paramref name="start"/>.</summary>
    ValueTask IncrementAsync(string app, QuotaWindow window, long start, CancellationToken cancellationToken);

    /// <summary>The last known count of the window that starts at <paramref name="start"/> (0 once it has passed).</summary>
    long Get(string app, QuotaWindow window, long start);

    /// <summary>Reads the counts of these windows again from the shared store.</summary>
    Task RefreshAsync(IReadOnlyList<(string App, QuotaWindow Window, long Start)> windows, CancellationToken cancellationToken);
}

/// <summary>The counts of this hub's own calls.</summary>
internal class MemoryQuotaStore : IQuotaStore
{
    private readonly ConcurrentDictionary<(string App, string Window), Counter> _counts = new();

    public virtual ValueTask IncrementAsync(string app, QuotaWindow window, long start, CancellationToken cancellationToken)
    {
        var counter = _counts.GetOrAdd((app, window.Name), _ => new Counter());
        lock (counter)
        {
            if (counter.Start != start)
            {
                counter.Start = start;
                counter.Count = 0;
            }

            counter.Count++;
        }

        return ValueTask.CompletedTask;
    }

    public long Get(string app, QuotaWindow window, long start)
    {
        if (!_counts.TryGetValue((app, window.Name), out var counter))
        {
            return 0;
        }

        lock (counter)
        {
            return counter.Start == start ? counter.Count : 0;
        }
    }

    public virtual Task RefreshAsync(IReadOnlyList<(string App, QuotaWindow Window, long Start)> windows, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Sets a window's count as read from a shared store (never lowers it: a read may race an increment).</summary>
    protected void Set(string app, QuotaWindow window, long start, long count)
    {
        var counter = _counts.GetOrAdd((app, window.Name), _ => new Counter());
        lock (counter)
        {
            if (counter.Start != start)
            {
                counter.Start = start;
                counter.Count = count;
            }
            else
            {
                counter.Count = Math.Max(counter.Count, count);
            }
        }
    }

    private sealed class Counter
    {
        public long Start { get; set; } = long.MinValue;

        public long Count { get; set; }
    }
}
