using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace BackgroundCache.Internal.Engine;

/// <summary>
/// A set's keys: a <see cref="ConcurrentDictionary{TKey, TValue}"/> that gives its memory back. The dictionary's bucket
/// and lock arrays only ever grow, so a set that once held a million keys would keep ~20 B per key it no longer holds;
/// this table replaces the dictionary by a copy sized to what is left once three quarters of its peak are gone
/// (issue #21). Reads take no lock and see the dictionary of the moment; adds and removals take one lock, so no write can
/// fall between the copy and the swap. Copies are amortised: a table shrinking from N keys to none copies fewer than
/// N / 3 entries in all.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <typeparam name="TValue">The entry type.</typeparam>
internal sealed class KeyTable<TKey, TValue>
    where TKey : notnull
    where TValue : class
{
    /// <summary>Below this peak a table never copies itself: what it could give back is a few hundred bytes.</summary>
    internal const int MinimumPeakToShrink = 64;

    private readonly Lock _writeGate = new();
    private volatile ConcurrentDictionary<TKey, TValue> _map = new();
    private volatile int _count;
    private int _peak;

    /// <summary>Gets the number of keys.</summary>
    public int Count => _count;

    /// <summary>Gets the number of times the table replaced its dictionary by a smaller copy (tests).</summary>
    internal int Shrinks { get; private set; }

    /// <summary>Gets the dictionary of the moment (tests: a replaced one must be collectable).</summary>
    internal object Dictionary => _map;

    /// <summary>Gets the values, a snapshot taken now.</summary>
    public ICollection<TValue> Values => _map.Values;

    /// <summary>Gets the keys, a snapshot taken now.</summary>
    public ICollection<TKey> Keys => _map.Keys;

    /// <summary>Gets the key-value pairs; like the dictionary's own enumerator, it neither locks nor is a snapshot.</summary>
    public IEnumerable<KeyValuePair<TKey, TValue>> Pairs => _map;

    /// <summary>Looks a key up, with no lock.</summary>
    public bool TryGetValue(TKey key, [MaybeNullWhen(false)] out TValue value) => _map.TryGetValue(key, out value);

    /// <summary>Adds <paramref name="created"/> under <paramref name="key"/> unless the key is there; returns the one held.</summary>
    public TValue GetOrAdd(TKey key, TValue created)
    {
        lock (_writeGate)
        {
            // Every add holds the write lock, so a key TryAdd finds is there for good until this lock is let go: one walk
            // of the bucket for a new key, where GetOrAdd looks the key up before it adds it.
            if (!_map.TryAdd(key, created))
            {
                return _map[key];
            }

            _count++;
            _peak = Math.Max(_peak, _count);
            return created;
        }
    }

    /// <summary>Removes a key; returns its value, and the number of keys left.</summary>
    public bool TryRemove(TKey key, [MaybeNullWhen(false)] out TValue value, out int left)
    {
        lock (_writeGate)
        {
            if (!_map.TryRemove(key, out value))
            {
                left = _count;
                return false;
            }

            left = OnRemoved();
            return true;
        }
    }

    /// <summary>Removes a key only while it still holds <paramref name="value"/>; returns the number of keys left.</summary>
    public bool TryRemove(TKey key, TValue value, out int left)
    {
        lock (_writeGate)
        {
            if (!((ICollection<KeyValuePair<TKey, TValue>>)_map).Remove(new KeyValuePair<TKey, TValue>(key, value)))
            {
                left = _count;
                return false;
            }

            left = OnRemoved();
            return true;
        }
    }

    private int OnRemoved()
    {
        var count = --_count;
        if (_peak > MinimumPeakToShrink && count < _peak / 4)
        {
            // Under the write lock: no add or removal can land in the old dictionary after the copy was taken. Readers
            // keep reading the old one, whole and unchanged, until the new one is published.
            var map = _map;
            _map = new ConcurrentDictionary<TKey, TValue>(map);
            _peak = count;
            Shrinks++;
        }

        return count;
    }
}
