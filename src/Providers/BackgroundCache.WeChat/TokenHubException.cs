using System.Net;

namespace BackgroundCache.WeChat;

/// <summary>
/// A failed call to a central token hub. Carries no token and no API key.
/// </summary>
public sealed class TokenHubException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="TokenHubException"/> class.</summary>
    public TokenHubException()
        : this("The token hub call failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="TokenHubException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public TokenHubException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="TokenHubException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public TokenHubException(string message, Exception? innerException)
        : base(message, innerException)
    {
        IsTransient = true;
    }

    /// <summary>Initializes a new instance of the <see cref="TokenHubException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="statusCode">The hub's HTTP status code, if it answered.</param>
    /// <param name="isTransient">Whether a retry soon can succeed.</param>
    /// <param name="innerException">The underlying error.</param>
    public TokenHubException(string message, HttpStatusCode? statusCode, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        IsTransient = isTransient;
    }

    /// <summary>Gets the hub's HTTP status code, if it answered.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets a value indicating whether a retry soon can succeed (the hub is down or has no token yet).</summary>
    public bool IsTransient { get; }

    /// <inheritdoc />
    public TimeSpan? RetryAfter => null;
}
