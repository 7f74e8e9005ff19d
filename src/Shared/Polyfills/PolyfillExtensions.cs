using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace BackgroundCache.Polyfills;

/// <summary>
/// netstandard2.0 stand-ins (C# 14 extension members) for the .NET 10 members this library calls, so the same source
/// compiles for both targets. Each behaves as its .NET 10 namesake does for the arguments the library passes.
/// </summary>
internal static class PolyfillExtensions
{
    extension(ArgumentNullException)
    {
        /// <summary>Throws an <see cref="ArgumentNullException"/> if <paramref name="argument"/> is <see langword="null"/>.</summary>
        /// <param name="argument">The reference type argument to validate as non-null.</param>
        /// <param name="paramName">The name of the parameter with which <paramref name="argument"/> corresponds.</param>
        public static void ThrowIfNull([NotNull] object? argument, [CallerArgumentExpression(nameof(argument))] string? paramName = null)
        {
            if (argument is null)
            {
                throw new ArgumentNullException(paramName);
            }
        }
    }

    extension(SHA256)
    {
        /// <summary>Computes the SHA-256 hash of <paramref name="source"/> into <paramref name="destination"/>.</summary>
        /// <param name="source">The data to hash.</param>
        /// <param name="destination">Receives the 32-byte hash.</param>
        /// <returns>The number of bytes written (32).</returns>
        public static int HashData(ReadOnlySpan<byte> source, Span<byte> destination)
        {
            using var sha = SHA256.Create();
            var hash = sha.ComputeHash(source.ToArray());
            hash.AsSpan().CopyTo(destination);
            return hash.Length;
        }
    }

    extension(Convert)
    {
        /// <summary>Converts bytes to lower-case hexadecimal digits.</summary>
        /// <param name="bytes">The bytes to convert.</param>
        /// <returns>Two lower-case hex digits per byte.</returns>
        public static string ToHexStringLower(ReadOnlySpan<byte> bytes)
        {
            const string Digits = "0123456789abcdef";
            var chars = new char[bytes.Length * 2];
            for (var i = 0; i < bytes.Length; i++)
            {
                chars[2 * i] = Digits[bytes[i] >> 4];
                chars[(2 * i) + 1] = Digits[bytes[i] & 0xF];
            }

            return new string(chars);
        }
    }

    extension(ThreadPool)
    {
        /// <summary>Queues <paramref name="callBack"/> with <paramref name="state"/> to the thread pool without flowing the execution context.</summary>
        /// <typeparam name="TState">The type of the state.</typeparam>
        /// <param name="callBack">The work.</param>
        /// <param name="state">Its state.</param>
        /// <param name="preferLocal">Must be <see langword="false"/> (the global queue, the only one netstandard2.0 offers).</param>
        /// <returns><see langword="true"/> when the work was queued.</returns>
        public static bool UnsafeQueueUserWorkItem<TState>(Action<TState> callBack, TState state, bool preferLocal)
        {
            ArgumentNullException.ThrowIfNull(callBack);
            if (preferLocal)
            {
                throw new NotSupportedException("netstandard2.0 has no thread-local work queue.");
            }

            return ThreadPool.UnsafeQueueUserWorkItem(static s => ((WorkItem<TState>)s!).Run(), new WorkItem<TState>(callBack, state));
        }
    }

    extension(Task task)
    {
        /// <summary>Gets a value indicating whether the task ran to completion.</summary>
        public bool IsCompletedSuccessfully => task.Status == TaskStatus.RanToCompletion;

        /// <summary>Gets a task that completes as this one does, or is canceled when <paramref name="cancellationToken"/> is.</summary>
        /// <param name="cancellationToken">Cancels the wait (not the task).</param>
        /// <returns>The task to await.</returns>
        public Task WaitAsync(CancellationToken cancellationToken) => task.WaitAsync(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);

        /// <summary>Gets a task that completes after <paramref name="delay"/> on <paramref name="timeProvider"/>'s clock.</summary>
        /// <param name="delay">The delay.</param>
        /// <param name="timeProvider">The clock.</param>
        /// <param name="cancellationToken">Cancels the delay.</param>
        /// <returns>The delay's task.</returns>
        public static Task Delay(TimeSpan delay, TimeProvider timeProvider, CancellationToken cancellationToken) => timeProvider.Delay(delay, cancellationToken);
    }

    extension<TResult>(Task<TResult> task)
    {
        /// <summary>Gets a task that completes as this one does, or is canceled when <paramref name="cancellationToken"/> is.</summary>
        /// <param name="cancellationToken">Cancels the wait (not the task).</param>
        /// <returns>The task to await.</returns>
        public Task<TResult> WaitAsync(CancellationToken cancellationToken) => task.WaitAsync(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
    }

    extension(Random)
    {
        /// <summary>Gets a thread-safe <see cref="Random"/> instance for use from any thread.</summary>
        public static Random Shared => SharedRandom.Instance;
    }

    extension(TimeSpan)
    {
        /// <summary>Multiplies a time interval by a factor (rounded to whole ticks).</summary>
        /// <param name="timeSpan">The interval.</param>
        /// <param name="factor">The factor.</param>
        /// <returns>The product.</returns>
        public static TimeSpan operator *(TimeSpan timeSpan, double factor)
        {
            if (double.IsNaN(factor))
            {
                throw new ArgumentException("The factor cannot be NaN.", nameof(factor));
            }

            return FromDoubleTicks(Math.Round(timeSpan.Ticks * factor));
        }

        /// <summary>Multiplies a time interval by a factor (rounded to whole ticks).</summary>
        /// <param name="factor">The factor.</param>
        /// <param name="timeSpan">The interval.</param>
        /// <returns>The product.</returns>
        public static TimeSpan operator *(double factor, TimeSpan timeSpan) => timeSpan * factor;

        /// <summary>Divides a time interval by a divisor (rounded to whole ticks).</summary>
        /// <param name="timeSpan">The interval.</param>
        /// <param name="divisor">The divisor.</param>
        /// <returns>The quotient.</returns>
        public static TimeSpan operator /(TimeSpan timeSpan, double divisor)
        {
            if (double.IsNaN(divisor))
            {
                throw new ArgumentException("The divisor cannot be NaN.", nameof(divisor));
            }

            return FromDoubleTicks(Math.Round(timeSpan.Ticks / divisor));
        }

        /// <summary>Divides one time interval by another.</summary>
        /// <param name="t1">The dividend.</param>
        /// <param name="t2">The divisor.</param>
        /// <returns>The ratio.</returns>
        public static double operator /(TimeSpan t1, TimeSpan t2) => t1.Ticks / (double)t2.Ticks;
    }

    extension<T>(Queue<T> queue)
    {
        /// <summary>Removes the object at the beginning of the queue, if any.</summary>
        /// <param name="result">The removed object.</param>
        /// <returns><see langword="true"/> when an object was removed.</returns>
        public bool TryDequeue([MaybeNullWhen(false)] out T result)
        {
            if (queue.Count == 0)
            {
                result = default;
                return false;
            }

            result = queue.Dequeue();
            return true;
        }
    }

    extension<TKey, TValue>(System.Collections.Concurrent.ConcurrentDictionary<TKey, TValue> dictionary)
        where TKey : notnull
    {
        /// <summary>Removes the pair only if the key still maps to that value.</summary>
        /// <param name="item">The key and the value it must still have.</param>
        /// <returns><see langword="true"/> when the pair was removed.</returns>
        public bool TryRemove(KeyValuePair<TKey, TValue> item) => ((ICollection<KeyValuePair<TKey, TValue>>)dictionary).Remove(item);
    }

    /// <summary>Deconstructs a key/value pair.</summary>
    /// <typeparam name="TKey">The type of the key.</typeparam>
    /// <typeparam name="TValue">The type of the value.</typeparam>
    /// <param name="pair">The pair.</param>
    /// <param name="key">Its key.</param>
    /// <param name="value">Its value.</param>
    public static void Deconstruct<TKey, TValue>(this KeyValuePair<TKey, TValue> pair, out TKey key, out TValue value)
    {
        key = pair.Key;
        value = pair.Value;
    }

    // TimeSpan's own conversion of a double tick count (.NET's TimeSpan.IntervalFromDoubleTicks).
    private static TimeSpan FromDoubleTicks(double ticks)
    {
        if (ticks > long.MaxValue || ticks < long.MinValue || double.IsNaN(ticks))
        {
            throw new OverflowException("TimeSpan overflowed because the duration is too long.");
        }

        return ticks == long.MaxValue ? TimeSpan.MaxValue : new TimeSpan((long)ticks);
    }

    private sealed class WorkItem<TState>(Action<TState> callBack, TState state)
    {
        public void Run() => callBack(state);
    }

    /// <summary>A <see cref="Random"/> that is safe to share across threads: each thread draws from its own generator.</summary>
    private sealed class SharedRandom : Random
    {
        public static readonly SharedRandom Instance = new();

        private static readonly Random Seeds = new();

        [ThreadStatic]
        private static Random? t_local;

        private static Random Local => t_local ??= CreateLocal();

        public override int Next() => Local.Next();

        public override int Next(int maxValue) => Local.Next(maxValue);

        public override int Next(int minValue, int maxValue) => Local.Next(minValue, maxValue);

        public override double NextDouble() => Local.NextDouble();

        public override void NextBytes(byte[] buffer) => Local.NextBytes(buffer);

        protected override double Sample() => Local.NextDouble();

        private static Random CreateLocal()
        {
            int seed;
            lock (Seeds)
            {
                seed = Seeds.Next();
            }

            return new Random(seed);
        }
    }
}
