using Microsoft.Extensions.Logging;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Log messages of the WeChat package (event ids 2000-2999). Tokens appear only as fingerprints; secrets never.
/// </summary>
internal static partial class Log
{
    public const int TokenFetchedId = 2000;
    public const int ConfigurationErrorId = 2001;
    public const int QuotaExhaustedId = 2002;
    public const int BreakerOpenedId = 2003;
    public const int TokenRejectedId = 2004;
    public const int ForceRefreshId = 2005;
    public const int SameTokenAfterRejectionId = 2006;
    public const int TicketTokenRejectedId = 2007;

    [LoggerMessage(TokenFetchedId, LogLevel.Debug, "WeChat token for '{CacheName}' ({Mode}) fetched: {Fingerprint}, expires in {ExpiresInSeconds} s.")]
    public static partial void TokenFetched(ILogger logger, string cacheName, WeChatTokenMode mode, string fingerprint, long expiresInSeconds);

    [LoggerMessage(ConfigurationErrorId, LogLevel.Error, "WeChat refused the token call for '{CacheName}' with errcode {ErrorCode}: {Hint} The last token keeps being served while it is valid; retries are slow until this is fixed.")]
    public static partial void ConfigurationError(ILogger logger, string cacheName, int errorCode, string hint);

    [LoggerMessage(QuotaExhaustedId, LogLevel.Error, "WeChat's quota for '{CacheName}' is exhausted (errcode {ErrorCode}); no token call before {RetryAt}. A still-valid token keeps being served.")]
    public static partial void QuotaExhausted(ILogger logger, string cacheName, int errorCode, DateTimeOffset retryAt);

    [LoggerMessage(BreakerOpenedId, LogLevel.Error, "WeChat token fetches for '{CacheName}' opened the breaker: {Fetches} fetches within {Window}. No call to WeChat for {Duration}; something keeps invalidating the token (another process refreshing the same app with cgi-bin/token?).")]
    public static partial void BreakerOpened(ILogger logger, string cacheName, int fetches, TimeSpan window, TimeSpan duration);

    [LoggerMessage(TokenRejectedId, LogLevel.Warning, "WeChat rejected token {Fingerprint} of '{CacheName}' with errcode {ErrorCode}; retrying the request once with token {NewFingerprint}.")]
    public static partial void TokenRejected(ILogger logger, string cacheName, string fingerprint, int errorCode, string newFingerprint);

    [LoggerMessage(ForceRefreshId, LogLevel.Information, "Forcing a new WeChat stable token for '{CacheName}' ({UsedToday} forced refreshes today).")]
    public static partial void ForceRefresh(ILogger logger, string cacheName, int usedToday);

    [LoggerMessage(SameTokenAfterRejectionId, LogLevel.Warning, "WeChat returned the rejected token {Fingerprint} again for '{CacheName}'; not forcing a refresh automatically (use WeChatAccessTokenSource.ForceRefreshAsync if the token leaked).")]
    public static partial void SameTokenAfterRejection(ILogger logger, string cacheName, string fingerprint);

    [LoggerMessage(TicketTokenRejectedId, LogLevel.Warning, "WeChat rejected token {Fingerprint} of '{CacheName}' while fetching the JS-SDK ticket (errcode {ErrorCode}); invalidated it.")]
    public static partial void TicketTokenRejected(ILogger logger, string cacheName, string fingerprint, int errorCode);
}
