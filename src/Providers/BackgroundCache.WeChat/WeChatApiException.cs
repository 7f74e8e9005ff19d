using System.Net;

namespace BackgroundCache.WeChat;

/// <summary>
/// A failed WeChat API call: an <c>errcode</c>, an unexpected answer, or the client's own breaker. Carries no secret and
/// no token. Implements <see cref="IRefreshRetryAdvice"/>, so the refresher retries fast only what a retry can fix.
/// </summary>
public sealed class WeChatApiException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="WeChatApiException"/> class.</summary>
    public WeChatApiException()
        : this("A WeChat API call failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeChatApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public WeChatApiException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeChatApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public WeChatApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        ErrorMessage = message;
        Kind = WeChatErrorKind.Other;
    }

    /// <summary>Initializes a new instance of the <see cref="WeChatApiException"/> class.</summary>
    /// <param name="errorCode">WeChat's <c>errcode</c> (0 when the failure has none).</param>
    /// <param name="errorMessage">WeChat's <c>errmsg</c>, or a description of the failure.</param>
    /// <param name="kind">What the failure means for the caller.</param>
    /// <param name="message">The exception message.</param>
    /// <param name="retryAfter">The least time to wait before calling again, if WeChat implies one.</param>
    /// <param name="statusCode">The HTTP status code, when the answer had one.</param>
    /// <param name="innerException">The underlying error.</param>
    public WeChatApiException(
        int errorCode,
        string errorMessage,
        WeChatErrorKind kind,
        string message,
        TimeSpan? retryAfter = null,
        HttpStatusCode? statusCode = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        ErrorMessage = errorMessage;
        Kind = kind;
        RetryAfter = retryAfter;
        StatusCode = statusCode;
    }

    /// <summary>Gets WeChat's <c>errcode</c>, or 0 when the failure has none (HTTP error, invalid answer, breaker).</summary>
    public int ErrorCode { get; }

    /// <summary>Gets WeChat's <c>errmsg</c>, or a description of the failure.</summary>
    public string ErrorMessage { get; }

    /// <summary>Gets what the failure means for the caller.</summary>
    public WeChatErrorKind Kind { get; }

    /// <summary>Gets the HTTP status code, when the answer had one.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets a value indicating whether a retry soon can succeed (system busy, 5xx, an invalid answer, the minute limit, a token that was just invalidated).</summary>
    public bool IsTransient => Kind is WeChatErrorKind.Transient or WeChatErrorKind.InvalidResponse or WeChatErrorKind.RateLimited or WeChatErrorKind.InvalidToken or WeChatErrorKind.Other;

    /// <summary>Gets a value indicating whether a setting must be fixed (bad AppId or AppSecret, IP not whitelisted).</summary>
    public bool IsConfigurationError => Kind == WeChatErrorKind.Configuration;

    /// <summary>Gets a value indicating whether a quota or rate limit was hit.</summary>
    public bool IsQuotaError => Kind is WeChatErrorKind.QuotaExhausted or WeChatErrorKind.RateLimited;

    /// <inheritdoc />
    public TimeSpan? RetryAfter { get; }
}
