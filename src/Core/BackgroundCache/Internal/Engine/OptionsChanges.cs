using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// Counts the changes an <see cref="IOptionsMonitor{TOptions}"/> of <see cref="RefreshingCacheOptions"/> signals, through
/// one listener per monitor: an engine reads its options again only after the count moved (issue #21: a named lookup in
/// the monitor's cache several times per refresh). One listener for all the engines of a provider, because the monitor
/// keeps its listeners in one multicast delegate: a listener per engine made adding and removing each one O(N), and
/// starting and disposing 30,000 single caches quadratic.
/// </summary>
internal sealed class OptionsChanges
{
    private static readonly ConditionalWeakTable<IOptionsMonitor<RefreshingCacheOptions>, OptionsChanges> ByMonitor = new();
    private int _count;

    private OptionsChanges()
    {
    }

    /// <summary>Gets how many changes the monitor has signalled (for any name) since the first engine asked.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Gets the change counter of <paramref name="monitor"/>, listening to it the first time.</summary>
    public static OptionsChanges Of(IOptionsMonitor<RefreshingCacheOptions> monitor) =>
        ByMonitor.GetValue(monitor, static m =>
        {
            var changes = new OptionsChanges();
            // Lives as long as the monitor: the monitor holds the listener, the table holds the counter for the monitor.
            _ = m.OnChange((_, _) => Interlocked.Increment(ref changes._count));
            return changes;
        });
}
