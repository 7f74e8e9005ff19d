using Microsoft.Extensions.Logging;

namespace BackgroundCache.OAuth.Internal;

/// <summary>The package's log messages: event ids 4000-4099; no secret, assertion or token in any of them.</summary>
internal static partial class Log
{
    public const int DiscoveryRefreshedId = 4000;
    public const int DiscoveryFailedUsingKnownId = 4001;
    public const int TokenRejectedId = 4010;
    public const int TokenRejectedNotRetriedId = 4011;
    public const int ReplacementFailedId = 4012;

    [LoggerMessage(DiscoveryRefreshedId, LogLevel.Debug, "OAuth discovery of {Authority}: token endpoint {TokenEndpoint}.")]
    public static partial void DiscoveryRefreshed(ILogger logger, Uri authority, Uri tokenEndpoint);

    [LoggerMessage(DiscoveryFailedUsingKnownId, LogLevel.Warning, "OAuth discovery of {Authority} failed; the token endpoint already known ({TokenEndpoint}) stays in use.")]
    public static partial void DiscoveryFailedUsingKnown(ILogger logger, Exception error, Uri authority, Uri tokenEndpoint);

    [LoggerMessage(TokenRejectedId, LogLevel.Information, "Client credentials token '{CacheName}' ({Fingerprint}) was rejected by {Host} (invalid_token); retrying once with {Replacement}.")]
    public static partial void TokenRejected(ILogger logger, string cacheName, string fingerprint, string host, string replacement);

    [LoggerMessage(TokenRejectedNotRetriedId, LogLevel.Warning, "Client credentials token '{CacheName}' ({Fingerprint}) was rejected by {Host} (invalid_token); the request is not retried: {Reason}.")]
    public static partial void TokenRejectedNotRetried(ILogger logger, string cacheName, string fingerprint, string host, string reason);

    [LoggerMessage(ReplacementFailedId, LogLevel.Warning, "Client credentials token '{CacheName}' ({Fingerprint}) was rejected by {Host} and no replacement could be fetched; the 401 answer is returned.")]
    public static partial void ReplacementFailed(ILogger logger, Exception error, string cacheName, string fingerprint, string host);
}
