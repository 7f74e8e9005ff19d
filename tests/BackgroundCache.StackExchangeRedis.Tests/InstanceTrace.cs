using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// What every instance of a test did (its logs at every level, and the test's own notes), in order, with real time since
/// the trace began: printed when a test fails, so a rare failure under load explains itself.
/// </summary>
internal sealed class InstanceTrace
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _nodes;

    public int NextNodeId() => Interlocked.Increment(ref _nodes);

    /// <summary>Adds a line for instance <paramref name="node"/> (0: the test itself).</summary>
    public void Add(int node, string line) => _lines.Enqueue(string.Create(CultureInfo.InvariantCulture, $"    {_clock.Elapsed.TotalMilliseconds,9:F1} ms {(node == 0 ? "test" : $"node{node}")}: {line}"));

    public void Clear() => _lines.Clear();

    /// <summary>Gets the last <paramref name="count"/> lines.</summary>
    public string Tail(int count) => string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - count)));

    public override string ToString() => string.Join('\n', _lines);
}

/// <summary>Writes an instance's logs to a <see cref="InstanceTrace"/>.</summary>
internal sealed class TraceLoggerProvider(InstanceTrace trace, int node) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new TraceLogger(trace, node);

    public void Dispose()
    {
    }

    private sealed class TraceLogger(InstanceTrace trace, int node) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => trace.Add(node, $"[{logLevel}] {formatter(state, exception)}{(exception is null ? string.Empty : $" ({exception.GetType().Name}: {exception.Message})")}");
    }
}
