using Microsoft.Extensions.Logging;

namespace BackgroundCache.DingTalk.Internal;

/// <summary>Log messages of the DingTalk package (event ids 5000-5099). Tokens appear only as fingerprints; secrets never.</summary>
internal static partial class Log
{
    public const int TokenFetchedId = 5000;
    public const int ConfigurationErrorId = 5001;

    [LoggerMessage(TokenFetchedId, LogLevel.Debug, "DingTalk token for '{CacheName}' ({Api} API) fetched: {Fingerprint}, expires in {ExpiresInSeconds} s.")]
    public static partial void TokenFetched(ILogger logger, string cacheName, DingTalkApi api, string fingerprint, long expiresInSeconds);

    [LoggerMessage(ConfigurationErrorId, LogLevel.Error, "DingTalk refused the token call for '{CacheName}' ({Kind}, code {Code}). The last token keeps being served while it is valid; retries are slow until this is fixed.")]
    public static partial void ConfigurationError(ILogger logger, string cacheName, DingTalkErrorKind kind, string code);
}
