namespace BackgroundCache.Feishu;

/// <summary>The class of a Feishu/Lark error, which decides whether retrying can help.</summary>
public enum FeishuErrorKind
{
    /// <summary>An error code this library does not classify; retried with backoff.</summary>
    Other,

    /// <summary>
    /// The access token was rejected: 99991663 (tenant token invalid), 99991664 (app token invalid), 99991671 (token
    /// format), 99991677 (expired), 10013 (a store app's <c>app_access_token</c> invalid). Transient: a new token helps.
    /// </summary>
    InvalidToken,

    /// <summary>The App ID or App Secret is wrong (10003 invalid parameter, 10014 app secret invalid). Permanent.</summary>
    InvalidCredentials,

    /// <summary>A store app's <c>app_ticket</c> is invalid or expired (10012). Transient: a resend is asked for.</summary>
    InvalidTicket,

    /// <summary>The request was malformed (99991661: no or malformed access token). Permanent.</summary>
    InvalidRequest,

    /// <summary>The caller's IP is not on the app's allow-list (99991401). Permanent until the console changes.</summary>
    IpNotAllowed,

    /// <summary>The rate limit was hit (99991400, HTTP 429 or 400); <see cref="FeishuApiException.RetryAfter"/> comes from <c>x-ogw-ratelimit-reset</c>.</summary>
    RateLimited,

    /// <summary>The answer was not Feishu's JSON (an HTML page from a proxy, a truncated body) or lacked the token. Transient.</summary>
    InvalidResponse,

    /// <summary>The Open Platform could not be reached or answered a server error. Transient.</summary>
    Unavailable,
}
