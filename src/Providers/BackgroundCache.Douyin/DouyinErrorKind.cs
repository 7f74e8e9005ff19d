namespace BackgroundCache.Douyin;

/// <summary>What a Douyin error means for the caller.</summary>
public enum DouyinErrorKind
{
    /// <summary>System busy (2100004), HTTP 5xx, a reset connection: retry with backoff.</summary>
    Transient,

    /// <summary>The answer was not what the API documents (not JSON, a missing field): retry with backoff.</summary>
    InvalidResponse,

    /// <summary>
    /// The token API's rate limit (10020: more than 500 calls in 5 minutes) or HTTP 429:
    /// <see cref="DouyinApiException.RetryAfter"/> says how long to wait.
    /// </summary>
    RateLimited,

    /// <summary>The client_key does not exist (10003) or the client_key/client_secret pair is wrong (10013): fix the settings.</summary>
    InvalidCredentials,

    /// <summary>A parameter was refused (10002): a client bug or a setting with stray characters.</summary>
    InvalidRequest,

    /// <summary>The token was refused by a business API (10008, 2190002, 2190008, 28001003, 28001008).</summary>
    InvalidToken,

    /// <summary>Any other error.</summary>
    Other,
}
