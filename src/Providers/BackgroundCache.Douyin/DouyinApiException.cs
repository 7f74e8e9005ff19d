using System.Net;

namespace BackgroundCache.Douyin;

/// <summary>
/// A failed Douyin token call: a <c>data.error_code</c>, an HTTP error, or an unexpected answer. Carries no secret and no
/// token. Implements <see cref="IRefreshRetryAdvice"/>, so the refresher retries fast only what a retry can fix and waits
/// out the rate limit.
/// </summary>
public sealed class DouyinApiException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="DouyinApiException"/> class.</summary>
    public DouyinApiException()
        : this("A Douyin API call failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DouyinApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public DouyinApiException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DouyinApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public DouyinApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Description = message;
        Kind = DouyinErrorKind.Other;
    }

    internal DouyinApiException(long errorCode, string description, DouyinErrorKind kind, string message, TimeSpan? retryAfter, HttpStatusCode? statusCode, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        Description = description;
        Kind = kind;
        RetryAfter = retryAfter;
        StatusCode = statusCode;
    }

    /// <summary>Gets Douyin's <c>error_code</c>, or 0 when the failure has none (HTTP error, invalid answer).</summary>
    public long ErrorCode { get; }

    /// <summary>Gets Douyin's <c>description</c>, or a description of the failure.</summary>
    public string Description { get; }

    /// <summary>Gets what the failure means for the caller.</summary>
    public DouyinErrorKind Kind { get; }

    /// <summary>Gets the HTTP status code, when the answer had one.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets a value indicating whether a retry soon can succeed (system busy, 5xx, an invalid answer, a rate limit once waited out).</summary>
    public bool IsTransient => Kind is DouyinErrorKind.Transient or DouyinErrorKind.InvalidResponse or DouyinErrorKind.RateLimited or DouyinErrorKind.InvalidToken or DouyinErrorKind.Other;

    /// <inheritdoc />
    public TimeSpan? RetryAfter { get; }
}
