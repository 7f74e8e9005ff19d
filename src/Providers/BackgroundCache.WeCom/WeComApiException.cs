using System.Net;

namespace BackgroundCache.WeCom;

/// <summary>
/// A failed WeCom API call: an <c>errcode</c> or an unexpected answer. Carries no secret and
/// no token. Implements <see cref="IRefreshRetryAdvice"/>, so the refresher retries fast only what a retry can fix.
/// </summary>
public sealed class WeComApiException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="WeComApiException"/> class.</summary>
    public WeComApiException()
        : this("A WeCom API call failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeComApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public WeComApiException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeComApiException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public WeComApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        ErrorMessage = message;
        Kind = WeComErrorKind.Other;
    }

    /// <summary>Initializes a new instance of the <see cref="WeComApiException"/> class.</summary>
    /// <param name="errorCode">WeCom's <c>errcode</c> (0 when the failure has none).</param>
    /// <param name="errorMessage">WeCom's <c>errmsg</c>, or a description of the failure.</param>
    /// <param name="kind">What the failure means for the caller.</param>
    /// <param name="message">The exception message.</param>
    /// <param name="retryAfter">The least time to wait before calling again, if WeCom implies one.</param>
    /// <param name="statusCode">The HTTP status code, when the answer had one.</param>
    /// <param name="innerException">The underlying error.</param>
    public WeComApiException(
        int errorCode,
        string errorMessage,
        WeComErrorKind kind,
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

    /// <summary>Gets WeCom's <c>errcode</c>, or 0 when the failure has none (HTTP error, invalid answer).</summary>
    public int ErrorCode { get; }

    /// <summary>Gets WeCom's <c>errmsg</c>, or a description of the failure.</summary>
    public string ErrorMessage { get; }

    /// <summary>Gets what the failure means for the caller.</summary>
    public WeComErrorKind Kind { get; }

    /// <summary>Gets the HTTP status code, when the answer had one.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>Gets a value indicating whether a retry soon can succeed (system busy, 5xx, an invalid answer, a rate limit, a token that was just invalidated).</summary>
    public bool IsTransient => Kind is WeComErrorKind.Transient or WeComErrorKind.InvalidResponse or WeComErrorKind.RateLimited or WeComErrorKind.InvalidToken or WeComErrorKind.Other;

    /// <summary>Gets a value indicating whether a setting must be fixed (bad CorpId or secret, IP not trusted, another app's token).</summary>
    public bool IsConfigurationError => Kind is WeComErrorKind.Configuration or WeComErrorKind.TokenOfAnotherApp;

    /// <summary>Gets a value indicating whether a rate limit was hit.</summary>
    public bool IsQuotaError => Kind == WeComErrorKind.RateLimited;

    /// <inheritdoc />
    public TimeSpan? RetryAfter { get; }
}
