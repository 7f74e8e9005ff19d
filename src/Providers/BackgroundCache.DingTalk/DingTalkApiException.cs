using System.Net;

namespace BackgroundCache.DingTalk;

/// <summary>
/// A failed DingTalk token call: an <c>errcode</c> (legacy API), an HTTP error with <c>code</c>/<c>message</c> (new API),
/// an HTML page (the IP ban) or an unexpected answer. Carries no secret and no token. Implements
/// <see cref="IRefreshRetryAdvice"/>, so the refresher retries fast only what a retry can fix and waits out rate limits.
/// </summary>
public sealed class DingTalkApiException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="DingTalkApiException"/> class.</summary>
    public DingTalkApiException()
        : this("A DingTalk API call failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DingTalkApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public DingTalkApiException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="DingTalkApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public DingTalkApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        ErrorCode = string.Empty;
        ErrorMessage = message;
        Kind = DingTalkErrorKind.Other;
    }

    internal DingTalkApiException(string errorCode, string? subCode, string errorMessage, DingTalkErrorKind kind, string message, TimeSpan? retryAfter, HttpStatusCode? statusCode, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = errorCode;
        SubCode = subCode;
        ErrorMessage = errorMessage;
        Kind = kind;
        RetryAfter = retryAfter;
        StatusCode = statusCode;
    }

    /// <summary>
    /// Gets DingTalk's error code: the legacy <c>errcode</c> as text (<c>"40014"</c>), the new API's <c>code</c>
    /// (<c>"invalidClientSecret"</c>), <c>"1111"</c> for the IP ban page, or empty when the failure has none.
    /// </summary>
    public string ErrorCode { get; }

    /// <summary>Gets the legacy API's <c>sub_code</c> (with errcode 88), or null.</summary>
    public string? SubCode { get; }

    /// <summary>Gets DingTalk's <c>errmsg</c> or <c>message</c>, or a description of the failure.</summary>
    public string ErrorMessage { get; }

    /// <summary>Gets what the failure means for the caller.</summary>
    public DingTalkErrorKind Kind { get; }

    /// <summary>Gets the HTTP status code, when the answer had one.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets a value indicating whether a retry soon can succeed (system busy, 5xx, an invalid answer, a rate limit once waited out, an invalidated token).</summary>
    public bool IsTransient => Kind is DingTalkErrorKind.Transient or DingTalkErrorKind.InvalidResponse or DingTalkErrorKind.RateLimited or DingTalkErrorKind.InvalidToken or DingTalkErrorKind.Other;

    /// <inheritdoc />
    public TimeSpan? RetryAfter { get; }
}
