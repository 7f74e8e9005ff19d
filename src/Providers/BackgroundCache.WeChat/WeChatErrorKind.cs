namespace BackgroundCache.WeChat;

/// <summary>
/// What a WeChat error means for the caller.
/// </summary>
public enum WeChatErrorKind
{
    /// <summary>System busy (-1), HTTP 5xx, a reset connection: retry with backoff.</summary>
    Transient,

    /// <summary>The answer was not what the API documents (not JSON, an HTML page, a missing field): retry with backoff.</summary>
    InvalidResponse,

    /// <summary>The per-minute limit (45011) or the forced-refresh spacing: wait for the next minute.</summary>
    RateLimited,

    /// <summary>The daily quota (45009): no token calls until the daily reset; keep serving a still-valid token.</summary>
    QuotaExhausted,

    /// <summary>A setting is wrong (AppId, AppSecret, IP whitelist, frozen secret): retrying will not help until it is fixed.</summary>
    Configuration,

    /// <summary>The access token was refused by a business API (40001, 40014, 42001).</summary>
    InvalidToken,

    /// <summary>The account's administrator must confirm the call (895xx): wait as long as WeChat says.</summary>
    AdminConfirmation,

    /// <summary>The client's own breaker refused to call WeChat after a burst of fetches.</summary>
    BreakerOpen,

    /// <summary>Any other errcode.</summary>
    Other,

    /// <summary>
    /// An Open Platform authorizer's refresh token was refused (61023) or the platform does not know the authorizer: the
    /// account's owner revoked the authorization or must authorize again. Retrying will not help.
    /// </summary>
    AuthorizationRevoked,
}
