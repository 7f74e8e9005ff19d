using BackgroundCache.Coordination;

namespace BackgroundCache.Internal.Engine;

/// <summary>The set's side of cluster coordination: the view its coordinator gets, and removals that cross instances.</summary>
internal sealed partial class RefreshingCacheSet<TKey, T>
{
    private static async ValueTask<bool> RemoveSharedAsync(ICacheCoordinator<T> coordinator, string key, CancellationToken cancellationToken)
    {
        await coordinator.RemoveAsync(key, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Removes a key here only: another instance removed it on purpose (the coordinator says so).</summary>
    private void RemoveLocal(string key)
    {
        if (CoordinationKeys.TryParse<TKey>(key, out var parsed) && _entries.TryRemove(parsed, out var entry, out var count))
        {
            StopRemoved(entry);
            Log.SetKeyRemoved(Logger, Name, count);
        }
    }

    /// <summary>The set as its coordinator sees it: another object, so a reader holding the set cannot reach it.</summary>
    private sealed class CoordinatedValues(RefreshingCacheSet<TKey, T> set) : ICoordinatedValues<T>
    {
        public string Name => set.Name;

        public RefreshingCacheOptions Options => set.Options;

        public IEnumerable<ICoordinatedEntry<T>> Entries => set._entries.Values.Select(static e => e.Coordination);

        public DateTimeOffset? GetExpiresAt(T value) => set.GetExpiresAt(value);

        public ICoordinatedEntry<T>? Find(string key) =>
            CoordinationKeys.TryParse<TKey>(key, out var parsed) && set._entries.TryGetValue(parsed, out var entry) ? entry.Coordination : null;

        public ICoordinatedEntry<T>? GetOrAdd(string key) =>
            !set.IsStopped && CoordinationKeys.TryParse<TKey>(key, out var parsed) ? set.GetOrAddEntry(parsed).Coordination : null;

        public void RemoveLocal(string key) => set.RemoveLocal(key);
    }
}
