using System.Net;

namespace BackgroundCache.OAuth;

/// <summary>
/// A token request failed: the token endpoint answered an error (RFC 6749 §5.2), an answer that is not a token (HTML from a
/// proxy, a body that is not JSON), or could not be reached. Carries the advice the refresher needs: configuration errors
/// (<c>invalid_client</c>, <c>unauthorized_client</c>, <c>invalid_scope</c>, <c>invalid_grant</c>,
/// <c>unsupported_grant_type</c>, other 4xx answers) are permanent, server errors, timeouts and
/// <c>temporarily_unavailable</c> are transient, and a <c>Retry-After</c> on 429 or 503 is honoured.
/// </summary>
/// <remarks>No message holds the client secret, the client assertion or a token.</remarks>
public sealed class OAuthTokenException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="OAuthTokenException"/> class.</summary>
    public OAuthTokenException()
        : this("The token request failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OAuthTokenException"/> class.</summary>
    /// <param name="message">The message.</param>
    public OAuthTokenException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="OAuthTokenException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public OAuthTokenException(string message, Exception? innerException)
        : base(message, innerException)
    {
        IsTransient = true;
    }

    internal OAuthTokenException(string message, string? error, string? errorDescription, HttpStatusCode? statusCode, bool isTransient, TimeSpan? retryAfter, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
        ErrorDescription = errorDescription;
        StatusCode = statusCode;
        IsTransient = isTransient;
        RetryAfter = retryAfter;
    }

    /// <summary>
    /// Gets the RFC 6749 §5.2 error code the token endpoint answered (<c>invalid_client</c>, <c>invalid_scope</c>, …), or
    /// <see langword="null"/> when the answer carried none (an HTML page, a network failure).
    /// </summary>
    public string? Error { get; }

    /// <summary>Gets the endpoint's <c>error_description</c>, or <see langword="null"/>.</summary>
    public string? ErrorDescription { get; }

    /// <summary>Gets the HTTP status of the answer, or <see langword="null"/> when there was no answer.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <inheritdoc />
    public bool IsTransient { get; }

    /// <inheritdoc />
    public TimeSpan? RetryAfter { get; }
}
