using System.Diagnostics.CodeAnalysis;
using System.Net;
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
        /// <summary>Converts a range of bytes to upper-case hexadecimal digits.</summary>
        /// <param name="bytes">The bytes to convert.</param>
        /// <param name="offset">The first byte.</param>
        /// <param name="length">How many bytes.</param>
        /// <returns>Two upper-case hex digits per byte.</returns>
        public static string ToHexString(byte[] bytes, int offset, int length) => ToHexStringLower(bytes.AsSpan(offset, length)).ToUpperInvariant();

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

    extension(ArgumentException)
    {
        /// <summary>Throws if <paramref name="argument"/> is <see langword="null"/> or empty.</summary>
        /// <param name="argument">The string argument to validate.</param>
        /// <param name="paramName">The name of the parameter with which <paramref name="argument"/> corresponds.</param>
        public static void ThrowIfNullOrEmpty([NotNull] string? argument, [CallerArgumentExpression(nameof(argument))] string? paramName = null)
        {
            if (argument is null)
            {
                throw new ArgumentNullException(paramName);
            }

            if (argument.Length == 0)
            {
                throw new ArgumentException("The value cannot be an empty string.", paramName);
            }
        }
    }

    extension(Enum)
    {
        /// <summary>Returns whether <paramref name="value"/> is a named constant of <typeparamref name="TEnum"/>.</summary>
        /// <typeparam name="TEnum">The enumeration.</typeparam>
        /// <param name="value">The value.</param>
        /// <returns><see langword="true"/> when the value is defined.</returns>
        public static bool IsDefined<TEnum>(TEnum value)
            where TEnum : struct, Enum => Enum.IsDefined(typeof(TEnum), value);
    }

    extension(string)
    {
        /// <summary>Concatenates <paramref name="values"/> with <paramref name="separator"/> between them.</summary>
        /// <param name="separator">The separator.</param>
        /// <param name="values">The strings.</param>
        /// <returns>The joined string.</returns>
        public static string Join(char separator, IEnumerable<string?> values) => string.Join(separator.ToString(), values);
    }

    extension(string text)
    {
        /// <summary>Returns whether the string starts with <paramref name="value"/>.</summary>
        /// <param name="value">The character.</param>
        /// <returns><see langword="true"/> when the first character is <paramref name="value"/>.</returns>
        public bool StartsWith(char value) => text.Length != 0 && text[0] == value;

        /// <summary>Returns whether <paramref name="value"/> occurs in the string under <paramref name="comparisonType"/>.</summary>
        /// <param name="value">The string to seek.</param>
        /// <param name="comparisonType">The comparison rules.</param>
        /// <returns><see langword="true"/> when it occurs.</returns>
        public bool Contains(string value, StringComparison comparisonType) => text.IndexOf(value, comparisonType) >= 0;

        /// <summary>Returns the index of <paramref name="value"/> under <paramref name="comparisonType"/>, or -1.</summary>
        /// <param name="value">The character to seek.</param>
        /// <param name="comparisonType">The comparison rules.</param>
        /// <returns>The zero-based index, or -1.</returns>
        public int IndexOf(char value, StringComparison comparisonType) => text.IndexOf(value.ToString(), comparisonType);

        /// <summary>Replaces every occurrence of <paramref name="oldValue"/> under <paramref name="comparisonType"/>.</summary>
        /// <param name="oldValue">The string to replace.</param>
        /// <param name="newValue">Its replacement.</param>
        /// <param name="comparisonType">The comparison rules.</param>
        /// <returns>The string with every occurrence replaced.</returns>
        public string Replace(string oldValue, string? newValue, StringComparison comparisonType)
        {
            ArgumentException.ThrowIfNullOrEmpty(oldValue);
            var builder = new System.Text.StringBuilder(text.Length);
            var start = 0;
            int found;
            while ((found = text.IndexOf(oldValue, start, comparisonType)) >= 0)
            {
                builder.Append(text, start, found - start).Append(newValue);
                start = found + oldValue.Length;
            }

            return start == 0 ? text : builder.Append(text, start, text.Length - start).ToString();
        }
    }

    extension(SHA1)
    {
        /// <summary>Computes the SHA-1 hash of <paramref name="source"/>.</summary>
        /// <param name="source">The data to hash.</param>
        /// <returns>The 20-byte hash.</returns>
        public static byte[] HashData(byte[] source)
        {
#pragma warning disable CA5350 // The callers that need SHA-1 (WeChat's JS-SDK signature) say why.
            using var sha = SHA1.Create();
#pragma warning restore CA5350
            return sha.ComputeHash(source);
        }
    }

    extension(HttpContent content)
    {
        /// <summary>Buffers the content; <paramref name="cancellationToken"/> cancels the wait (netstandard2.0 cannot cancel the read).</summary>
        /// <param name="cancellationToken">Cancels the wait.</param>
        /// <returns>The buffering task.</returns>
        public Task LoadIntoBufferAsync(CancellationToken cancellationToken) => content.LoadIntoBufferAsync().WaitAsync(cancellationToken);

        /// <summary>Reads the content as bytes; <paramref name="cancellationToken"/> cancels the wait (netstandard2.0 cannot cancel the read).</summary>
        /// <param name="cancellationToken">Cancels the wait.</param>
        /// <returns>The content's bytes.</returns>
        public Task<byte[]> ReadAsByteArrayAsync(CancellationToken cancellationToken) => content.ReadAsByteArrayAsync().WaitAsync(cancellationToken);

        /// <summary>Reads the content as a string; <paramref name="cancellationToken"/> cancels the wait (netstandard2.0 cannot cancel the read).</summary>
        /// <param name="cancellationToken">Cancels the wait.</param>
        /// <returns>The content as text.</returns>
        public Task<string> ReadAsStringAsync(CancellationToken cancellationToken) => content.ReadAsStringAsync().WaitAsync(cancellationToken);

        /// <summary>Opens the content as a stream; <paramref name="cancellationToken"/> cancels the wait (netstandard2.0 cannot cancel the read).</summary>
        /// <param name="cancellationToken">Cancels the wait.</param>
        /// <returns>The content's stream.</returns>
        public Task<Stream> ReadAsStreamAsync(CancellationToken cancellationToken) => content.ReadAsStreamAsync().WaitAsync(cancellationToken);
    }

    extension(HttpRequestException exception)
    {
        /// <summary>
        /// Gets the HTTP status the exception carries: the runtime's own value on .NET 5 and later (the netstandard2.0 build
        /// also runs there), <see langword="null"/> on .NET Framework, whose exception has none.
        /// </summary>
        public HttpStatusCode? StatusCode => HttpRequestExceptionStatus.Property?.GetValue(exception) as HttpStatusCode?;
    }

    extension(Stream stream)
    {
        /// <summary>Configures how awaits on the stream's disposal are performed (netstandard2.0 streams dispose synchronously).</summary>
        /// <param name="continueOnCapturedContext">Whether to continue on the captured context.</param>
        /// <returns>The configured disposable for <see langword="await using"/>.</returns>
        public ConfiguredAsyncDisposable ConfigureAwait(bool continueOnCapturedContext) =>
            new AsyncDisposableStream(stream).ConfigureAwait(continueOnCapturedContext);

        /// <summary>Reads into <paramref name="buffer"/>.</summary>
        /// <param name="buffer">The buffer to fill.</param>
        /// <param name="cancellationToken">Cancels the read.</param>
        /// <returns>The number of bytes read; 0 at the end of the stream.</returns>
        public Task<int> ReadAsync(byte[] buffer, CancellationToken cancellationToken) => stream.ReadAsync(buffer, 0, buffer.Length, cancellationToken);
    }

    extension(CancellationTokenSource source)
    {
        /// <summary>Requests cancellation and returns a task that completes when the callbacks have run.</summary>
        /// <returns>The task of the cancellation; faulted if a callback threw.</returns>
        public Task CancelAsync()
        {
            try
            {
                source.Cancel();
                return Task.CompletedTask;
            }
            catch (AggregateException ex)
            {
                return Task.FromException(ex);
            }
        }
    }

    extension(long)
    {
        /// <summary>Parses a number in <paramref name="style"/> and <paramref name="provider"/>'s format.</summary>
        /// <param name="s">The characters to parse.</param>
        /// <param name="style">The permitted format.</param>
        /// <param name="provider">The culture-specific format.</param>
        /// <param name="result">The number, when parsing succeeded.</param>
        /// <returns><see langword="true"/> when parsing succeeded.</returns>
        public static bool TryParse(ReadOnlySpan<char> s, System.Globalization.NumberStyles style, IFormatProvider? provider, out long result) =>
            long.TryParse(s.ToString(), style, provider, out result);
    }

    extension<TSource>(IEnumerable<TSource> source)
    {
        /// <summary>Splits the elements into arrays of at most <paramref name="size"/> elements.</summary>
        /// <param name="size">The largest chunk.</param>
        /// <returns>The chunks, in order.</returns>
        public IEnumerable<TSource[]> Chunk(int size)
        {
            ArgumentNullException.ThrowIfNull(source);
            if (size < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(size), size, "The chunk size must be positive.");
            }

            return ChunkIterator(source, size);
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
        public static Task Delay(TimeSpan delay, TimeProvider timeProvider, CancellationToken cancellationToken = default) => timeProvider.Delay(delay, cancellationToken);
    }

    extension<TResult>(Task<TResult> task)
    {
        /// <summary>Gets a task that completes as this one does, or is canceled when <paramref name="cancellationToken"/> is.</summary>
        /// <param name="cancellationToken">Cancels the wait (not the task).</param>
        /// <returns>The task to await.</returns>
        public Task<TResult> WaitAsync(CancellationToken cancellationToken) => task.WaitAsync(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken);
    }

    extension(ValueTask)
    {
        /// <summary>Gets a task that has already completed successfully.</summary>
        public static ValueTask CompletedTask => default;
    }

    extension(System.Diagnostics.Stopwatch)
    {
        /// <summary>Gets the elapsed time since a value read from <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>.</summary>
        /// <param name="startingTimestamp">The timestamp at the start of the period.</param>
        /// <returns>The elapsed time.</returns>
        public static TimeSpan GetElapsedTime(long startingTimestamp) =>
            GetElapsedTime(startingTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());

        /// <summary>Gets the time between two values read from <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>.</summary>
        /// <param name="startingTimestamp">The timestamp at the start of the period.</param>
        /// <param name="endingTimestamp">The timestamp at the end of the period.</param>
        /// <returns>The elapsed time.</returns>
        public static TimeSpan GetElapsedTime(long startingTimestamp, long endingTimestamp) =>
            TimeSpan.FromTicks((long)((endingTimestamp - startingTimestamp) * ((double)TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency)));
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
        public static TimeSpan operator *(TimeSpan timeSpan, double factor) => Multiply(timeSpan, factor);

        /// <summary>Multiplies a time interval by a factor (rounded to whole ticks).</summary>
        /// <param name="factor">The factor.</param>
        /// <param name="timeSpan">The interval.</param>
        /// <returns>The product.</returns>
        public static TimeSpan operator *(double factor, TimeSpan timeSpan) => Multiply(timeSpan, factor);

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
        /// <summary>Gets the object at the beginning of the queue without removing it, if any.</summary>
        /// <param name="result">The object.</param>
        /// <returns><see langword="true"/> when the queue is not empty.</returns>
        public bool TryPeek([MaybeNullWhen(false)] out T result)
        {
            if (queue.Count == 0)
            {
                result = default;
                return false;
            }

            result = queue.Peek();
            return true;
        }
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

    private static IEnumerable<TSource[]> ChunkIterator<TSource>(IEnumerable<TSource> source, int size)
    {
        var chunk = new List<TSource>(size);
        foreach (var item in source)
        {
            chunk.Add(item);
            if (chunk.Count == size)
            {
                yield return chunk.ToArray();
                chunk.Clear();
            }
        }

        if (chunk.Count > 0)
        {
            yield return chunk.ToArray();
        }
    }

    // TimeSpan.Multiply as .NET implements it.
    private static TimeSpan Multiply(TimeSpan timeSpan, double factor)
    {
        if (double.IsNaN(factor))
        {
            throw new ArgumentException("The factor cannot be NaN.", nameof(factor));
        }

        return FromDoubleTicks(Math.Round(timeSpan.Ticks * factor));
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

    private static class HttpRequestExceptionStatus
    {
        public static readonly System.Reflection.PropertyInfo? Property = typeof(HttpRequestException).GetProperty("StatusCode");
    }

    private sealed class AsyncDisposableStream(Stream stream) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            stream.Dispose();
            return default;
        }
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
