namespace BackgroundCache.StackExchangeRedis;

/// <summary>
/// A refresh could not be coordinated through Redis (Redis unreachable, the leader did not answer in time, the lease
/// was lost). Transient: the refresher retries with backoff while the last value keeps being served.
/// </summary>
public sealed class RedisCoordinationException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="RedisCoordinationException"/> class.</summary>
    public RedisCoordinationException()
        : this("A refresh could not be coordinated through Redis.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RedisCoordinationException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public RedisCoordinationException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RedisCoordinationException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public RedisCoordinationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public bool IsTransient => true;

    /// <inheritdoc />
    public TimeSpan? RetryAfter => null;
}
