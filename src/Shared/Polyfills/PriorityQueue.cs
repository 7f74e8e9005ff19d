// The heap algorithm is the one of System.Collections.Generic.PriorityQueue<TElement, TPriority> in dotnet/runtime
// (MIT license, Copyright (c) .NET Foundation and Contributors): same arity, same sift-up and sift-down comparisons, so
// items of equal priority come out in the same order as on .NET 10.
using System.Diagnostics.CodeAnalysis;

namespace BackgroundCache.Polyfills;

/// <summary>
/// netstandard2.0 stand-in for <c>System.Collections.Generic.PriorityQueue&lt;TElement, TPriority&gt;</c> (.NET 6+): a
/// quaternary min-heap, with the members this library uses.
/// </summary>
/// <typeparam name="TElement">The type of the queued elements.</typeparam>
/// <typeparam name="TPriority">The type of their priorities; the smallest comes out first.</typeparam>
internal sealed class PriorityQueue<TElement, TPriority>
{
    private const int Arity = 4;
    private const int Log2Arity = 2;

    private readonly IComparer<TPriority> _comparer;
    private (TElement Element, TPriority Priority)[] _nodes = [];
    private int _size;

    /// <summary>Initializes a new instance of the <see cref="PriorityQueue{TElement, TPriority}"/> class.</summary>
    public PriorityQueue()
        : this(comparer: null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="PriorityQueue{TElement, TPriority}"/> class.</summary>
    /// <param name="comparer">Orders the priorities, or <see langword="null"/> for <see cref="Comparer{T}.Default"/>.</param>
    public PriorityQueue(IComparer<TPriority>? comparer) => _comparer = comparer ?? Comparer<TPriority>.Default;

    /// <summary>Gets the number of queued elements.</summary>
    public int Count => _size;

    /// <summary>Adds <paramref name="element"/> with <paramref name="priority"/>.</summary>
    /// <param name="element">The element.</param>
    /// <param name="priority">Its priority.</param>
    public void Enqueue(TElement element, TPriority priority)
    {
        var currentSize = _size;
        if (_nodes.Length == currentSize)
        {
            Grow(currentSize + 1);
        }

        _size = currentSize + 1;
        MoveUp((element, priority), currentSize);
    }

    /// <summary>Gets the element with the smallest priority without removing it.</summary>
    /// <param name="element">The element, when the queue is not empty.</param>
    /// <param name="priority">Its priority.</param>
    /// <returns><see langword="true"/> when the queue is not empty.</returns>
    public bool TryPeek([MaybeNullWhen(false)] out TElement element, [MaybeNullWhen(false)] out TPriority priority)
    {
        if (_size != 0)
        {
            (element, priority) = _nodes[0];
            return true;
        }

        element = default;
        priority = default;
        return false;
    }

    /// <summary>Removes and returns the element with the smallest priority.</summary>
    /// <returns>The element.</returns>
    /// <exception cref="InvalidOperationException">The queue is empty.</exception>
    public TElement Dequeue()
    {
        if (_size == 0)
        {
            throw new InvalidOperationException("The queue is empty.");
        }

        var element = _nodes[0].Element;
        RemoveRootNode();
        return element;
    }

    /// <summary>Removes and returns the element with the smallest priority, if any.</summary>
    /// <param name="element">The element, when the queue was not empty.</param>
    /// <param name="priority">Its priority.</param>
    /// <returns><see langword="true"/> when an element was removed.</returns>
    public bool TryDequeue([MaybeNullWhen(false)] out TElement element, [MaybeNullWhen(false)] out TPriority priority)
    {
        if (_size != 0)
        {
            (element, priority) = _nodes[0];
            RemoveRootNode();
            return true;
        }

        element = default;
        priority = default;
        return false;
    }

    /// <summary>Removes every element.</summary>
    public void Clear()
    {
        Array.Clear(_nodes, 0, _size);
        _size = 0;
    }

    private static int GetParentIndex(int index) => (index - 1) >> Log2Arity;

    private static int GetFirstChildIndex(int index) => (index << Log2Arity) + 1;

    private void Grow(int minCapacity)
    {
        const int GrowFactor = 2;
        const int MinimumGrow = 4;
        const int MaxArrayLength = 0x7FFFFFC7;

        var newCapacity = GrowFactor * _nodes.Length;
        if ((uint)newCapacity > MaxArrayLength)
        {
            newCapacity = MaxArrayLength;
        }

        newCapacity = Math.Max(newCapacity, _nodes.Length + MinimumGrow);
        if (newCapacity < minCapacity)
        {
            newCapacity = minCapacity;
        }

        Array.Resize(ref _nodes, newCapacity);
    }

    private void RemoveRootNode()
    {
        var lastNodeIndex = --_size;
        if (lastNodeIndex > 0)
        {
            MoveDown(_nodes[lastNodeIndex], 0);
        }

        _nodes[lastNodeIndex] = default;
    }

    private void MoveUp((TElement Element, TPriority Priority) node, int nodeIndex)
    {
        var nodes = _nodes;
        while (nodeIndex > 0)
        {
            var parentIndex = GetParentIndex(nodeIndex);
            var parent = nodes[parentIndex];
            if (_comparer.Compare(node.Priority, parent.Priority) < 0)
            {
                nodes[nodeIndex] = parent;
                nodeIndex = parentIndex;
            }
            else
            {
                break;
            }
        }

        nodes[nodeIndex] = node;
    }

    private void MoveDown((TElement Element, TPriority Priority) node, int nodeIndex)
    {
        var nodes = _nodes;
        var size = _size;
        int i;
        while ((i = GetFirstChildIndex(nodeIndex)) < size)
        {
            var minChild = nodes[i];
            var minChildIndex = i;
            var childIndexUpperBound = Math.Min(i + Arity, size);
            while (++i < childIndexUpperBound)
            {
                var nextChild = nodes[i];
                if (_comparer.Compare(nextChild.Priority, minChild.Priority) < 0)
                {
                    minChild = nextChild;
                    minChildIndex = i;
                }
            }

            if (_comparer.Compare(node.Priority, minChild.Priority) <= 0)
            {
                break;
            }

            nodes[nodeIndex] = minChild;
            nodeIndex = minChildIndex;
        }

        nodes[nodeIndex] = node;
    }
}
