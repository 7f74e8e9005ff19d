namespace BackgroundCache.WeCom;

/// <summary>What a WeCom error means for the caller.</summary>
public enum WeComErrorKind
{
    /// <summary>System busy (-1), HTTP 5xx, a reset connection: retry with backoff.</summary>
    Transient,

    /// <summary>The answer was not what the API documents (not JSON, an HTML page, a missing field): retry with backoff.</summary>
    InvalidResponse,

    /// <summary>A frequency or concurrency limit (45009, 45033): wait as <see cref="WeComApiException.RetryAfter"/> says.</summary>
    RateLimited,

    /// <summary>A setting is wrong (CorpId, secret, trusted IP, AgentId): retrying will not help until it is fixed.</summary>
    Configuration,

    /// <summary>The access token (or suite token) was refused as invalid or expired (40014, 42001, 40082, 42009): fetch a new one.</summary>
    InvalidToken,

    /// <summary>The token belongs to another app of the corp (301002): a new token of the same app will not help.</summary>
    TokenOfAnotherApp,

    /// <summary>The access token parameter is missing (41001): a client bug.</summary>
    MissingToken,

    /// <summary>A suite's authorization by a corp is gone (invalid permanent code, cancelled authorization): the corp must install the app again.</summary>
    AuthorizationRevoked,

    /// <summary>Any other errcode.</summary>
    Other,
}
