using System.Globalization;
using System.Net;
using BackgroundCache.Platforms;

namespace BackgroundCache.DingTalk.Internal;

/// <summary>Maps DingTalk's answers to what a client does (docs/dingtalk.md has the table), and builds the exceptions.</summary>
internal static class DingTalkErrors
{
    /// <summary>The HTML page DingTalk shows an IP that called too often: banned for 5 minutes.</summary>
    public const string IpBanCode = "1111";

    public static readonly TimeSpan IpBanDuration = TimeSpan.FromMinutes(5);

    /// <summary>90019 counts calls per second; 90002 is the platform's own flow control.</summary>
    public static readonly TimeSpan PerSecondLimitWait = TimeSpan.FromSeconds(1);

    public static bool IsLegacyTokenRejection(long errorCode, string? subCode) =>
        errorCode is 40001 or 40014 or 42001 || (errorCode == 88 && subCode is "40001" or "40014" or "42001");

    public static bool IsNewTokenRejection(string? code) =>
        code is not null && (code.Equals("InvalidAuthentication", StringComparison.OrdinalIgnoreCase)
            || code.Contains("InvalidAccessToken", StringComparison.OrdinalIgnoreCase)
            || code.Contains("TokenExpired", StringComparison.OrdinalIgnoreCase));

    public static DingTalkErrorKind ClassifyLegacy(long errorCode, string? subCode) => errorCode switch
    {
        -1 => DingTalkErrorKind.Transient,
        90002 or 90018 or 90019 => DingTalkErrorKind.RateLimited,
        60020 => DingTalkErrorKind.IpNotAllowed,
        40089 or 41020 or 40096 or 40097 => DingTalkErrorKind.InvalidCredentials,
        _ when IsLegacyTokenRejection(errorCode, subCode) => DingTalkErrorKind.InvalidToken,
        88 => DingTalkErrorKind.PermissionDenied,
        _ => DingTalkErrorKind.Other,
    };

    public static DingTalkErrorKind ClassifyNew(HttpStatusCode status, string? code)
    {
        code ??= string.Empty;
        if (code.Contains("IpNotInWhiteList", StringComparison.OrdinalIgnoreCase))
        {
            return DingTalkErrorKind.IpNotAllowed;
        }

        if (code.StartsWith("invalidClient", StringComparison.OrdinalIgnoreCase)
            || code.StartsWith("invalidApp", StringComparison.OrdinalIgnoreCase))
        {
            return DingTalkErrorKind.InvalidCredentials;
        }

        if (IsNewTokenRejection(code))
        {
            return DingTalkErrorKind.InvalidToken;
        }

        if ((int)status == 429 || code.StartsWith("Throttling", StringComparison.OrdinalIgnoreCase) || code.Contains("QpsLimit", StringComparison.OrdinalIgnoreCase))
        {
            return DingTalkErrorKind.RateLimited;
        }

        if (code.StartsWith("Forbidden", StringComparison.OrdinalIgnoreCase))
        {
            return DingTalkErrorKind.PermissionDenied;
        }

        return (int)status >= 500 || code.StartsWith("ServiceUnavailable", StringComparison.OrdinalIgnoreCase) || code.StartsWith("SystemError", StringComparison.OrdinalIgnoreCase)
            ? DingTalkErrorKind.Transient
            : DingTalkErrorKind.Other;
    }

    public static DingTalkApiException FromLegacy(long errorCode, string? subCode, string errorMessage, string appKey)
    {
        var kind = ClassifyLegacy(errorCode, subCode);
        TimeSpan? retryAfter = kind == DingTalkErrorKind.RateLimited ? PerSecondLimitWait : null;
        var code = errorCode.ToString(CultureInfo.InvariantCulture);
        var sub = subCode is null ? string.Empty : $" (sub_code {subCode})";
        return new DingTalkApiException(code, subCode, errorMessage, kind, $"DingTalk error {code}{sub} ({kind}) for AppKey '{appKey}': {errorMessage}{Hint(kind)}", retryAfter, HttpStatusCode.OK);
    }

    public static DingTalkApiException FromNew(HttpStatusCode status, string? code, string errorMessage, TimeSpan? retryAfter, string appKey)
    {
        var kind = ClassifyNew(status, code);
        if (kind == DingTalkErrorKind.RateLimited)
        {
            retryAfter ??= PerSecondLimitWait;
        }

        return new DingTalkApiException(code ?? string.Empty, null, errorMessage, kind,
            $"DingTalk answered HTTP {(int)status} {code} ({kind}) for AppKey '{appKey}': {errorMessage}{Hint(kind)}", retryAfter, status);
    }

    public static DingTalkApiException IpBanned(PlatformAnswer answer, string appKey) => new(
        IpBanCode, null, "IP banned for calling too often", DingTalkErrorKind.RateLimited,
        $"DingTalk answered the token call for AppKey '{appKey}' with its IP ban page (1111, HTTP {(int)answer.Status}): this IP made too many calls and is banned for 5 minutes.",
        answer.RetryAfter is { } header && header > IpBanDuration ? header : IpBanDuration, answer.Status);

    public static DingTalkApiException InvalidResponse(string appKey, string problem, HttpStatusCode? status, Exception? inner = null) =>
        new(string.Empty, null, problem, DingTalkErrorKind.InvalidResponse, $"DingTalk answered the token call for AppKey '{appKey}' with {problem}.", null, status, inner);

    public static DingTalkApiException HttpFailure(string appKey, PlatformAnswer answer)
    {
        var code = (int)answer.Status;
        var kind = code >= 500 ? DingTalkErrorKind.Transient : code == 429 ? DingTalkErrorKind.RateLimited : DingTalkErrorKind.Other;
        return new DingTalkApiException(string.Empty, null, $"HTTP {code}", kind,
            $"DingTalk answered the token call for AppKey '{appKey}' with HTTP {code} and {answer.Describe()}.", kind == DingTalkErrorKind.RateLimited ? answer.RetryAfter ?? PerSecondLimitWait : answer.RetryAfter, answer.Status);
    }

    public static DingTalkApiException Unreachable(string appKey, Exception inner) =>
        new(string.Empty, null, "unreachable", DingTalkErrorKind.Transient, $"Could not reach DingTalk for AppKey '{appKey}': {inner.Message}", null, null, inner);

    private static string Hint(DingTalkErrorKind kind) => kind switch
    {
        DingTalkErrorKind.InvalidCredentials => ". Check DingTalkOptions.AppKey and AppSecret (the secret may have been reset in the developer console).",
        DingTalkErrorKind.IpNotAllowed => ". Add this server's egress IP to the app's server IP whitelist in the developer console, or refresh from a server that has one (a token hub).",
        DingTalkErrorKind.PermissionDenied => ". Grant the app the permission in the developer console.",
        _ => string.Empty,
    };
}
