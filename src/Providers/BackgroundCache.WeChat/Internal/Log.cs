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
    public const int OpenPlatformTicketReceivedId = 2020;
    public const int OpenPlatformTicketIgnoredId = 2021;
    public const int OpenPlatformAuthorizerAddedId = 2022;
    public const int OpenPlatformAuthorizerRemovedId = 2023;
    public const int OpenPlatformAuthorizerRevokedId = 2024;
    public const int OpenPlatformUnknownAuthorizerId = 2025;
    public const int OpenPlatformEventRejectedId = 2026;
    public const int OpenPlatformEventIgnoredId = 2027;
    public const int OpenPlatformRefreshTokenNotStoredId = 2028;
    public const int OpenPlatformTokenFetchedId = 2029;
    public const int OpenPlatformComponentTokenRejectedId = 2030;
    public const int OpenPlatformStartPushTicketRequestedId = 2031;
    public const int OpenPlatformStartPushTicketFailedId = 2032;
    public const int OpenPlatformPushOutOfOrderId = 2033;
    public const int OpenPlatformPushRepeatedId = 2034;

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

    [LoggerMessage(OpenPlatformTicketReceivedId, LogLevel.Debug, "WeChat Open Platform '{PlatformName}' received component_verify_ticket {Fingerprint} created at {CreatedAt}.")]
    public static partial void TicketReceived(ILogger logger, string platformName, string fingerprint, DateTimeOffset createdAt);

    [LoggerMessage(OpenPlatformTicketIgnoredId, LogLevel.Information, "WeChat Open Platform '{PlatformName}' ignored component_verify_ticket {Fingerprint} created at {CreatedAt}: the store holds a newer one (a delayed or replayed push).")]
    public static partial void TicketIgnored(ILogger logger, string platformName, string fingerprint, DateTimeOffset createdAt);

    [LoggerMessage(OpenPlatformAuthorizerAddedId, LogLevel.Information, "WeChat Open Platform '{PlatformName}': authorizer {AuthorizerAppId} authorized; its refresh token is stored and its token kept fresh.")]
    public static partial void AuthorizerAdded(ILogger logger, string platformName, string authorizerAppId);

    [LoggerMessage(OpenPlatformAuthorizerRemovedId, LogLevel.Information, "WeChat Open Platform '{PlatformName}': authorizer {AuthorizerAppId} removed ({Reason}).")]
    public static partial void AuthorizerRemoved(ILogger logger, string platformName, string authorizerAppId, string reason);

    [LoggerMessage(OpenPlatformAuthorizerRevokedId, LogLevel.Warning, "WeChat Open Platform '{PlatformName}': WeChat refused the refresh token of authorizer {AuthorizerAppId} (errcode 61023: the authorization was revoked or replaced). The authorizer is removed; its owner must authorize again.")]
    public static partial void AuthorizerRevoked(ILogger logger, string platformName, string authorizerAppId);

    [LoggerMessage(OpenPlatformUnknownAuthorizerId, LogLevel.Warning, "WeChat Open Platform '{PlatformName}': authorizer {AuthorizerAppId} was read but the store has no refresh token for it (never authorized, or revoked); it is not kept in the set.")]
    public static partial void UnknownAuthorizer(ILogger logger, string platformName, string authorizerAppId);

    [LoggerMessage(OpenPlatformEventRejectedId, LogLevel.Warning, "WeChat Open Platform '{PlatformName}' refused a push to its event URL ({Reason}): {Detail} Nothing was stored.")]
    public static partial void EventRejected(ILogger logger, string platformName, WeChatEventRejection reason, string detail);

    [LoggerMessage(OpenPlatformEventIgnoredId, LogLevel.Debug, "WeChat Open Platform '{PlatformName}' acknowledged a push of InfoType '{InfoType}' it does not handle.")]
    public static partial void EventIgnored(ILogger logger, string platformName, string infoType);

    [LoggerMessage(OpenPlatformRefreshTokenNotStoredId, LogLevel.Error, "WeChat Open Platform '{PlatformName}': the new refresh token of authorizer {AuthorizerAppId} could not be stored; it is kept in memory and stored again at the next refresh. If this process stops first, the owner may have to authorize again.")]
    public static partial void RefreshTokenNotStored(ILogger logger, Exception error, string platformName, string authorizerAppId);

    [LoggerMessage(OpenPlatformTokenFetchedId, LogLevel.Debug, "WeChat Open Platform '{PlatformName}': {Kind} token for {AppId} fetched: {Fingerprint}, expires in {ExpiresInSeconds} s.")]
    public static partial void OpenPlatformTokenFetched(ILogger logger, string platformName, string kind, string appId, string fingerprint, long expiresInSeconds);

    [LoggerMessage(OpenPlatformComponentTokenRejectedId, LogLevel.Warning, "WeChat Open Platform '{PlatformName}': WeChat rejected component token {Fingerprint} (errcode {ErrorCode}); invalidated it.")]
    public static partial void ComponentTokenRejected(ILogger logger, string platformName, string fingerprint, int errorCode);

    [LoggerMessage(OpenPlatformStartPushTicketRequestedId, LogLevel.Information, "WeChat Open Platform '{PlatformName}' has no component_verify_ticket: asked WeChat to start pushing tickets (api_start_push_ticket); the next push fetches the component token at once.")]
    public static partial void StartPushTicketRequested(ILogger logger, string platformName);

    [LoggerMessage(OpenPlatformStartPushTicketFailedId, LogLevel.Warning, "WeChat Open Platform '{PlatformName}' has no component_verify_ticket, and asking WeChat to start pushing tickets (api_start_push_ticket) failed: {Reason} WeChat still pushes one every 10 minutes; asked again in 10 minutes if none has arrived.")]
    public static partial void StartPushTicketFailed(ILogger logger, string platformName, string reason);

    [LoggerMessage(OpenPlatformPushOutOfOrderId, LogLevel.Information, "WeChat Open Platform '{PlatformName}' ignored an {InfoType} push for authorizer {AuthorizerAppId} created at {CreatedAt}: the store holds a later change ({StoredAt}), so this one is a late repeat.")]
    public static partial void PushOutOfOrder(ILogger logger, string platformName, string infoType, string authorizerAppId, DateTimeOffset createdAt, DateTimeOffset storedAt);

    [LoggerMessage(OpenPlatformPushRepeatedId, LogLevel.Debug, "WeChat Open Platform '{PlatformName}' acknowledged a repeated {InfoType} push for authorizer {AuthorizerAppId}: that authorization is already stored.")]
    public static partial void PushRepeated(ILogger logger, string platformName, string infoType, string authorizerAppId);
}
