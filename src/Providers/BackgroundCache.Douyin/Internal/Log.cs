using Microsoft.Extensions.Logging;

namespace BackgroundCache.Douyin.Internal;

/// <summary>Log messages of the Douyin package (event ids 5100-5199). Tokens appear only as fingerprints; secrets never.</summary>
internal static partial class Log
{
    public const int TokenFetchedId = 5100;
    public const int ConfigurationErrorId = 5101;

    [LoggerMessage(TokenFetchedId, LogLevel.Debug, "Douyin client_token for '{CacheName}' (stable: {Stable}) fetched: {Fingerprint}, expires in {ExpiresInSeconds} s.")]
    public static partial void TokenFetched(ILogger logger, string cacheName, bool stable, string fingerprint, long expiresInSeconds);

    [LoggerMessage(ConfigurationErrorId, LogLevel.Error, "Douyin refused the token call for '{CacheName}' with error_code {ErrorCode} ({Kind}). The last token keeps being served while it is valid; retries are slow until this is fixed.")]
    public static partial void ConfigurationError(ILogger logger, string cacheName, long errorCode, DouyinErrorKind kind);
}
