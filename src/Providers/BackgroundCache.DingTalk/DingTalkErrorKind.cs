namespace BackgroundCache.DingTalk;

/// <summary>What a DingTalk error means for the caller.</summary>
public enum DingTalkErrorKind
{
    /// <summary>System busy (-1), HTTP 5xx, a reset connection: retry with backoff.</summary>
    Transient,

    /// <summary>The answer was not what the API documents (not JSON, a missing field): retry with backoff.</summary>
    InvalidResponse,

    /// <summary>
    /// A rate limit: 90019 (calls per second per app), 90002 (the platform's own flow control), HTTP 429, or the HTML page
    /// with code 1111 that bans an IP for 5 minutes after too many calls. <see cref="DingTalkApiException.RetryAfter"/> says
    /// how long to wait.
    /// </summary>
    RateLimited,

    /// <summary>The AppKey or AppSecret was refused (<c>invalidClientId</c>, <c>invalidClientSecret</c>, 40089, 41020): fix the settings.</summary>
    InvalidCredentials,

    /// <summary>This server's IP is not on the app's whitelist (60020, <c>Forbidden.AccessDenied.IpNotInWhiteList</c>).</summary>
    IpNotAllowed,

    /// <summary>The app lacks a permission (88 with a <c>sub_code</c>, <c>Forbidden.AccessDenied.*</c>).</summary>
    PermissionDenied,

    /// <summary>The access token was refused by a business API (40001, 40014, 42001, <c>InvalidAuthentication</c>).</summary>
    InvalidToken,

    /// <summary>Any other error.</summary>
    Other,
}
