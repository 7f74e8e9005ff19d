namespace BackgroundCache.Polyfills;

/// <summary>
/// netstandard2.0 stand-in for <c>System.Threading.Lock</c> (.NET 9+): a plain object, so the <see langword="lock"/>
/// statement takes the <see cref="Monitor"/> path, exactly what it did before .NET 9.
/// </summary>
internal sealed class Lock
{
    /// <summary>Gets a value indicating whether the current thread holds this lock.</summary>
    public bool IsHeldByCurrentThread => Monitor.IsEntered(this);
}
