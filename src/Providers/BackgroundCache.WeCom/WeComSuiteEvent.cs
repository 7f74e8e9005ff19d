namespace BackgroundCache.WeCom;

/// <summary>A push to a suite's instruction URL, once verified, decrypted and handled.</summary>
/// <param name="InfoType">WeCom's <c>InfoType</c> (<c>suite_ticket</c>, <c>create_auth</c>, <c>change_auth</c>, <c>cancel_auth</c>, or another).</param>
/// <param name="CorpId">The corp the push is about, when it names one (for <c>create_auth</c>: the corp the code was exchanged for).</param>
/// <param name="CreatedAt">The push's <c>TimeStamp</c>.</param>
public sealed record WeComSuiteEvent(string InfoType, string? CorpId, DateTimeOffset CreatedAt);

/// <summary>Why a push to a suite's instruction URL was refused.</summary>
public enum WeComEventRejection
{
    /// <summary>Parameters or body missing, not XML, or without the expected elements.</summary>
    Malformed,

    /// <summary><c>msg_signature</c> does not match the suite's Token.</summary>
    InvalidSignature,

    /// <summary>The ciphertext does not decrypt with the suite's EncodingAESKey.</summary>
    Undecryptable,

    /// <summary>The message was sealed for, or names, another suite.</summary>
    WrongSuite,
}

/// <summary>A push that was refused: nothing was stored.</summary>
public sealed class WeComEventRejectedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="WeComEventRejectedException"/> class.</summary>
    public WeComEventRejectedException()
        : this(WeComEventRejection.Malformed, "The push was refused.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeComEventRejectedException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public WeComEventRejectedException(string message)
        : this(WeComEventRejection.Malformed, message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeComEventRejectedException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public WeComEventRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = WeComEventRejection.Malformed;
    }

    /// <summary>Initializes a new instance of the <see cref="WeComEventRejectedException"/> class.</summary>
    /// <param name="reason">Why the push was refused.</param>
    /// <param name="message">The message that describes the error.</param>
    public WeComEventRejectedException(WeComEventRejection reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Gets why the push was refused.</summary>
    public WeComEventRejection Reason { get; }
}
