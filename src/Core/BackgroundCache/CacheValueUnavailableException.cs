namespace BackgroundCache;

/// <summary>
/// Thrown by <see cref="IRefreshingCache{T}.GetAsync(CancellationToken)"/> when no usable value exists.
/// The last fetch error, if any, is the <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class CacheValueUnavailableException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="CacheValueUnavailableException"/> class.</summary>
    public CacheValueUnavailableException()
        : base("The cached value is unavailable.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CacheValueUnavailableException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public CacheValueUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CacheValueUnavailableException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The last fetch error.</param>
    public CacheValueUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CacheValueUnavailableException"/> class.</summary>
    /// <param name="cacheName">The name of the cache.</param>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The last fetch error.</param>
    public CacheValueUnavailableException(string cacheName, string message, Exception? innerException)
        : base(message, innerException)
    {
        CacheName = cacheName;
    }

    /// <summary>Gets the name of the cache that has no usable value.</summary>
    public string? CacheName { get; }
}
