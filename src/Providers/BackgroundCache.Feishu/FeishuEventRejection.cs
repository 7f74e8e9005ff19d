namespace BackgroundCache.Feishu;

/// <summary>Why a push to a Feishu event endpoint was refused.</summary>
public enum FeishuEventRejection
{
    /// <summary>The body is not an event Feishu sends (not JSON, cannot be decrypted, a field missing).</summary>
    Malformed,

    /// <summary>The <c>X-Lark-Signature</c> header is missing (an Encrypt Key is configured) or does not match.</summary>
    InvalidSignature,

    /// <summary>The event's Verification Token is not the configured one.</summary>
    InvalidVerificationToken,

    /// <summary>The event is for another app (its <c>app_id</c> is not the store app's).</summary>
    WrongApp,
}

/// <summary>A push to a Feishu event endpoint was refused; nothing was stored.</summary>
public sealed class FeishuEventRejectedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="FeishuEventRejectedException"/> class.</summary>
    public FeishuEventRejectedException()
        : this("The Feishu event was refused.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="FeishuEventRejectedException"/> class.</summary>
    /// <param name="message">The message.</param>
    public FeishuEventRejectedException(string message)
        : this(message, null)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="FeishuEventRejectedException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public FeishuEventRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="FeishuEventRejectedException"/> class.</summary>
    /// <param name="reason">Why the push was refused.</param>
    /// <param name="message">The message.</param>
    public FeishuEventRejectedException(FeishuEventRejection reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Gets why the push was refused.</summary>
    public FeishuEventRejection Reason { get; }
}
