using Microsoft.Extensions.Logging;

namespace BackgroundCache.Feishu.Internal;

/// <summary>The package's log messages: event ids 4300-4399; no secret, ticket or token in any of them (fingerprints only).</summary>
internal static partial class Log
{
    [LoggerMessage(4300, LogLevel.Debug, "Feishu '{CacheName}': {Kind} {Fingerprint} fetched, expires in {ExpiresIn} s.")]
    public static partial void TokenFetched(ILogger logger, string cacheName, string kind, string fingerprint, int expiresIn);

    [LoggerMessage(4310, LogLevel.Information, "Feishu token '{CacheName}' ({Fingerprint}) was rejected by {Host} (code {Code}); retrying once with {Replacement}.")]
    public static partial void TokenRejected(ILogger logger, string cacheName, string fingerprint, string host, int code, string replacement);

    [LoggerMessage(4311, LogLevel.Warning, "Feishu token '{CacheName}' ({Fingerprint}) was rejected by {Host} (code {Code}); the request is not retried: {Reason}.")]
    public static partial void TokenRejectedNotRetried(ILogger logger, string cacheName, string fingerprint, string host, int code, string reason);

    [LoggerMessage(4320, LogLevel.Information, "Feishu store app '{Name}': app_ticket {Fingerprint} received (created {CreatedAt:O}).")]
    public static partial void TicketReceived(ILogger logger, string name, string fingerprint, DateTimeOffset createdAt);

    [LoggerMessage(4321, LogLevel.Debug, "Feishu store app '{Name}': app_ticket {Fingerprint} ignored, a newer one is stored.")]
    public static partial void TicketIgnored(ILogger logger, string name, string fingerprint);

    [LoggerMessage(4322, LogLevel.Information, "Feishu store app '{Name}': no usable app_ticket; asked Feishu to push one (app_ticket/resend).")]
    public static partial void ResendRequested(ILogger logger, string name);

    [LoggerMessage(4323, LogLevel.Warning, "Feishu store app '{Name}': app_ticket/resend failed: {Reason}")]
    public static partial void ResendFailed(ILogger logger, string name, string reason);

    [LoggerMessage(4324, LogLevel.Debug, "Feishu store app '{Name}': event '{EventType}' acknowledged and ignored.")]
    public static partial void EventIgnored(ILogger logger, string name, string eventType);
}
