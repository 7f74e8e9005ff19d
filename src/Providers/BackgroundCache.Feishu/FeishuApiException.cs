using System.Net;

namespace BackgroundCache.Feishu;

/// <summary>
/// A Feishu/Lark call failed: the Open Platform answered a non-zero <c>code</c>, an answer that is not its JSON, or could not
/// be reached. Carries the refresher's advice (<see cref="IRefreshRetryAdvice"/>): bad credentials and IP allow-list errors
/// are permanent, rate limits wait for <c>x-ogw-ratelimit-reset</c>, the rest are transient.
/// </summary>
/// <remarks>No message holds the App Secret, a ticket or a token.</remarks>
public sealed class FeishuApiException : Exception, IRefreshRetryAdvice
{
    /// <summary>Initializes a new instance of the <see cref="FeishuApiException"/> class.</summary>
    public FeishuApiException()
        : this("The Feishu call failed.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="FeishuApiException"/> class.</summary>
    /// <param name="message">The message.</param>
    public FeishuApiException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="FeishuApiException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public FeishuApiException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Kind = FeishuErrorKind.Other;
        IsTransient = true;
    }

    internal FeishuApiException(string message, int code, string? errorMessage, FeishuErrorKind kind, HttpStatusCode? statusCode, TimeSpan? retryAfter, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        ErrorMessage = errorMessage;
        Kind = kind;
        StatusCode = statusCode;
        RetryAfter = retryAfter;
        IsTransient = kind is not (FeishuErrorKind.InvalidCredentials or FeishuErrorKind.InvalidRequest or FeishuErrorKind.IpNotAllowed);
    }

    /// <summary>Gets the <c>code</c> Feishu answered (0 when the answer carried none).</summary>
    public int Code { get; }

    /// <summary>Gets Feishu's <c>msg</c> (secrets removed), or <see langword="null"/>.</summary>
    public string? ErrorMessage { get; }

    /// <summary>Gets the class of the error.</summary>
    public FeishuErrorKind Kind { get; }

    /// <summary>Gets the HTTP status of the answer, or <see langword="null"/> when there was no answer.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <inheritdoc />
    public bool IsTransient { get; }

    /// <inheritdoc />
    public TimeSpan? RetryAfter { get; }
}
