using Microsoft.Extensions.Logging;

namespace BackgroundCache.WeCom.Internal;

/// <summary>Log messages of the WeCom package (event ids 6100-6199). Tokens appear only as fingerprints; secrets never.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6100, Level = LogLevel.Debug, Message = "WeCom token '{Name}' fetched: {Fingerprint}, expires in {ExpiresIn} s.")]
    public static partial void TokenFetched(ILogger logger, string name, string fingerprint, long expiresIn);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "WeCom rejected token {Fingerprint} of '{Name}' (errcode {ErrorCode}); retrying once with {Replacement}.")]
    public static partial void TokenRejected(ILogger logger, string name, string fingerprint, int errorCode, string replacement);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "WeCom rejected token {Fingerprint} of '{Name}' while fetching a JS-SDK ticket (errcode {ErrorCode}); invalidated.")]
    public static partial void TicketTokenRejected(ILogger logger, string name, string fingerprint, int errorCode);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Debug, Message = "WeCom suite '{Name}': token of corp '{CorpId}' fetched: {Fingerprint}, expires in {ExpiresIn} s.")]
    public static partial void CorpTokenFetched(ILogger logger, string name, string corpId, string fingerprint, long expiresIn);

    [LoggerMessage(EventId = 6110, Level = LogLevel.Information, Message = "WeCom suite '{Name}': suite_ticket received.")]
    public static partial void SuiteTicketReceived(ILogger logger, string name);

    [LoggerMessage(EventId = 6111, Level = LogLevel.Information, Message = "WeCom suite '{Name}': corp '{CorpId}' authorized the suite.")]
    public static partial void CorpAuthorized(ILogger logger, string name, string corpId);

    [LoggerMessage(EventId = 6112, Level = LogLevel.Information, Message = "WeCom suite '{Name}': corp '{CorpId}' cancelled its authorization; its token is removed.")]
    public static partial void CorpCancelled(ILogger logger, string name, string corpId);

    [LoggerMessage(EventId = 6113, Level = LogLevel.Warning, Message = "WeCom suite '{Name}': event rejected: {Reason}.")]
    public static partial void EventRejected(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 6114, Level = LogLevel.Debug, Message = "WeCom suite '{Name}': event '{InfoType}' ignored.")]
    public static partial void EventIgnored(ILogger logger, string name, string infoType);
}
