using System.ComponentModel;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// The cached value. Sealed and marked immutable, as HybridCache's docs recommend (otherwise it copies the value on every hit).
/// </summary>
[ImmutableObject(true)]
public sealed class Payload(string value)
{
    public string Value { get; } = value;
}
