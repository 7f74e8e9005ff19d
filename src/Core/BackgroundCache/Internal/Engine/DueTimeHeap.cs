namespace BackgroundCache.Internal.Engine;

/// <summary>
/// An item of a <see cref="DueTimeHeap"/>: it carries its own position in the heap, so rescheduling and removing it are
/// O(log n) and an item is in its heap at most once. An item belongs to one heap at a time; the heap's owner locks.
/// </summary>
internal abstract class DueTimeHeapItem
{
    /// <summary>Gets or sets the item's index in its heap; -1 when it is in none.</summary>
    internal int HeapIndex { get; set; } = -1;
}

/// <summary>
/// A binary min-heap of due times (ticks) whose items know their index: <see cref="Set"/> inserts or moves an item,
/// <see cref="Remove"/> takes it out at once. Unlike a priority queue with lazy deletion, a removed or rescheduled item
/// leaves nothing behind, so a key removed from a set is unreachable from the scheduler at once (issue #21). Not
/// thread-safe: the owner holds its lock around every call.
/// </summary>
internal sealed class DueTimeHeap
{
    private (DueTimeHeapItem Item, long Ticks)[] _nodes = [];

    /// <summary>Gets the number of items.</summary>
    public int Count { get; private set; }

    /// <summary>Gets the earliest item and its due time; false when the heap is empty.</summary>
    public bool TryPeek(out DueTimeHeapItem? item, out long ticks)
    {
        if (Count == 0)
        {
            item = null;
            ticks = 0;
            return false;
        }

        (item, ticks) = _nodes[0];
        return true;
    }

    /// <summary>Puts <paramref name="item"/> at <paramref name="ticks"/>: inserts it, or moves it if it is already here.</summary>
    public void Set(DueTimeHeapItem item, long ticks)
    {
        var index = item.HeapIndex;
        if (index < 0)
        {
            if (Count == _nodes.Length)
            {
                Array.Resize(ref _nodes, Math.Max(4, _nodes.Length * 2));
            }

            index = Count++;
            _nodes[index] = (item, ticks);
            item.HeapIndex = index;
            SiftUp(index);
            return;
        }

        var old = _nodes[index].Ticks;
        _nodes[index].Ticks = ticks;
        if (ticks < old)
        {
            SiftUp(index);
        }
        else if (ticks > old)
        {
            SiftDown(index);
        }
    }

    /// <summary>Takes <paramref name="item"/> out; false when it was not here.</summary>
    public bool Remove(DueTimeHeapItem item)
    {
        var index = item.HeapIndex;
        if (index < 0 || index >= Count || !ReferenceEquals(_nodes[index].Item, item))
        {
            return false;
        }

        RemoveAt(index);
        return true;
    }

    /// <summary>Takes out the earliest item.</summary>
    public DueTimeHeapItem Dequeue()
    {
        var item = _nodes[0].Item;
        RemoveAt(0);
        return item;
    }

    /// <summary>Empties the heap.</summary>
    public void Clear()
    {
        for (var i = 0; i < Count; i++)
        {
            _nodes[i].Item.HeapIndex = -1;
        }

        _nodes = [];
        Count = 0;
    }

    private void RemoveAt(int index)
    {
        _nodes[index].Item.HeapIndex = -1;
        var last = --Count;
        if (index != last)
        {
            var moved = _nodes[last];
            _nodes[index] = moved;
            moved.Item.HeapIndex = index;
            if (index > 0 && moved.Ticks < _nodes[(index - 1) >> 1].Ticks)
            {
                SiftUp(index);
            }
            else
            {
                SiftDown(index);
            }
        }

        _nodes[last] = default;
        if (_nodes.Length > 64 && Count < _nodes.Length / 4)
        {
            // Give the array back as the heap shrinks (a set whose keys were removed). A small one is kept: a single
            // cache's heap empties and fills again at every refresh (its wake goes while it fetches), and freeing it
            // then allocated a new one each time.
            Array.Resize(ref _nodes, Count == 0 ? 0 : _nodes.Length / 2);
        }
    }

    private void SiftUp(int index)
    {
        var node = _nodes[index];
        while (index > 0)
        {
            var parent = (index - 1) >> 1;
            if (_nodes[parent].Ticks <= node.Ticks)
            {
                break;
            }

            Place(index, _nodes[parent]);
            index = parent;
        }

        Place(index, node);
    }

    private void SiftDown(int index)
    {
        var node = _nodes[index];
        var count = Count;
        while (true)
        {
            var child = (2 * index) + 1;
            if (child >= count)
            {
                break;
            }

            if (child + 1 < count && _nodes[child + 1].Ticks < _nodes[child].Ticks)
            {
                child++;
            }

            if (node.Ticks <= _nodes[child].Ticks)
            {
                break;
            }

            Place(index, _nodes[child]);
            index = child;
        }

        Place(index, node);
    }

    private void Place(int index, (DueTimeHeapItem Item, long Ticks) node)
    {
        _nodes[index] = node;
        node.Item.HeapIndex = index;
    }
}
