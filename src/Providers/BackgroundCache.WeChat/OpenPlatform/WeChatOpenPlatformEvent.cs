namespace BackgroundCache.WeChat;

/// <summary>
/// A verified, decrypted push to a platform's event URL (授权事件接收URL), as handled by
/// <see cref="WeChatOpenPlatform.HandleEventAsync(string, string, string, string, CancellationToken)"/>.
/// </summary>
/// <param name="InfoType">The push's <c>InfoType</c>: <c>component_verify_ticket</c>, <c>authorized</c>,
/// <c>updateauthorized</c>, <c>unauthorized</c>, or another type that is acknowledged and otherwise ignored.</param>
/// <param name="AuthorizerAppId">The authorizer's AppId for authorization pushes; otherwise <see langword="null"/>.</param>
/// <param name="CreatedAt">The push's <c>CreateTime</c>.</param>
public sealed record WeChatOpenPlatformEvent(string InfoType, string? AuthorizerAppId, DateTimeOffset CreatedAt);

/// <summary>Why a push to the event URL was refused.</summary>
public enum WeChatEventRejection
{
    /// <summary>The body or the query is not what WeChat sends (not XML, no <c>Encrypt</c>, missing parameters, too large).</summary>
    Malformed,

    /// <summary><c>msg_signature</c> does not match: the push was not signed with the platform's Token.</summary>
    InvalidSignature,

    /// <summary>The ciphertext does not decrypt with the platform's EncodingAESKey.</summary>
    Undecryptable,

    /// <summary>The message was sealed for another AppId than the platform's.</summary>
    WrongAppId,
}

/// <summary>
/// A push to the event URL was refused: nothing was stored. Carries no secret and no message content.
/// </summary>
public sealed class WeChatEventRejectedException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="WeChatEventRejectedException"/> class.</summary>
    public WeChatEventRejectedException()
        : this(WeChatEventRejection.Malformed, "The push was refused.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeChatEventRejectedException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    public WeChatEventRejectedException(string message)
        : this(WeChatEventRejection.Malformed, message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="WeChatEventRejectedException"/> class.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The underlying error.</param>
    public WeChatEventRejectedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = WeChatEventRejection.Malformed;
    }

    /// <summary>Initializes a new instance of the <see cref="WeChatEventRejectedException"/> class.</summary>
    /// <param name="reason">Why the push was refused.</param>
    /// <param name="message">The message that describes the error.</param>
    public WeChatEventRejectedException(WeChatEventRejection reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Gets why the push was refused.</summary>
    public WeChatEventRejection Reason { get; }
}

/// <summary>Which accounts the authorization page offers (<c>auth_type</c>).</summary>
public enum WeChatAuthorizationType
{
    /// <summary>Official Accounts only (1).</summary>
    OfficialAccount = 1,

    /// <summary>Mini Programs only (2).</summary>
    MiniProgram = 2,

    /// <summary>Both Official Accounts and Mini Programs (3).</summary>
    Both = 3,
}
