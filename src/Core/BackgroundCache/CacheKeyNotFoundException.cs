namespace BackgroundCache;

/// <summary>
/// Thrown by the fetch of one key of a refreshing cache set when the upstream does not know that key (an account that
/// has not authorized the application, or whose authorization was revoked): the key leaves the set at once, is not
/// retried, and its readers get a <see cref="CacheValueUnavailableException"/> that carries this message (and this
/// exception as its <see cref="Exception.InnerException"/>).
/// </summary>
public sealed class CacheKeyNotFoundException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="CacheKeyNotFoundException"/> class.</summary>
    public CacheKeyNotFoundException()
        : base("The upstream does not know this key.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CacheKeyNotFoundException"/> class.</summary>
    /// <param name="message">The message that says which key the upstream does not know, and why.</param>
    public CacheKeyNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="CacheKeyNotFoundException"/> class.</summary>
    /// <param name="message">The message that says which key the upstream does not know, and why.</param>
    /// <param name="innerException">The upstream's answer.</param>
    public CacheKeyNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc/>
    public bool IsTransient => false;

    /// <inheritdoc/>
    public TimeSpan? RetryAfter => null;
}
