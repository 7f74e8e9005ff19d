using System.Net;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Maps WeChat's errcodes to what a client does (shared/WECHAT-API.md), and builds the exceptions. Branches on errcode only.
/// </summary>
internal static class WeChatErrors
{
    /// <summary>Daily quotas reset at midnight in Asia/Shanghai.</summary>
    public static readonly TimeSpan QuotaResetOffset = TimeSpan.FromHours(8);

    public static bool IsTokenRejection(int errorCode) => errorCode is 40001 or 40014 or 42001;

    public static WeChatErrorKind Classify(int errorCode) => errorCode switch
    {
        -1 or 61005 or 61006 => WeChatErrorKind.Transient,
        61023 => WeChatErrorKind.AuthorizationRevoked,
        45011 => WeChatErrorKind.RateLimited,
        45009 => WeChatErrorKind.QuotaExhausted,
        40002 or 40013 or 40125 or 40164 or 40243 or 41002 or 41004 or 50004 or 61004 or 61024 => WeChatErrorKind.Configuration,
        40001 or 40014 or 42001 => WeChatErrorKind.InvalidToken,
        89501 or 89503 or 89506 or 89507 => WeChatErrorKind.AdminConfirmation,
        _ => WeChatErrorKind.Other,
    };

    /// <summary>What to fix, for configuration errors; never includes a secret.</summary>
    public static string Hint(int errorCode, string errorMessage, string appId) => errorCode switch
    {
        40002 => "grant_type was refused; this is a client bug, please report it.",
        40013 => $"WeChat does not know AppId '{appId}': check WeChatOptions.AppId.",
        40125 => $"WeChat refused the AppSecret of AppId '{appId}': check WeChatOptions.AppSecret (it may have been reset in the WeChat console).",
        40164 => $"This server's IP is not in the API IP whitelist of AppId '{appId}' (WeChat says: {errorMessage}): add it in the WeChat console, or refresh from a server with a whitelisted egress IP (a token hub).",
        40243 => $"The AppSecret of AppId '{appId}' is frozen: unfreeze or reset it in the WeChat console, then update WeChatOptions.AppSecret.",
        41002 => "WeChatOptions.AppId is missing.",
        41004 => "WeChatOptions.AppSecret is missing.",
        50004 => $"WeChat has restricted AppId '{appId}' (account punished): see the WeChat console.",
        61004 => $"This server's IP is not in the API IP whitelist of third-party platform '{appId}' (WeChat says: {errorMessage}): add it in the Open Platform console.",
        61024 => $"AppId '{appId}' is managed by a third-party platform and cannot fetch its own token: use the platform's authorizer token.",
        _ => "see WeChat's documentation of this errcode.",
    };

    public static WeChatApiException FromErrorCode(int errorCode, string errorMessage, string appId, TimeProvider time)
    {
        var kind = Classify(errorCode);
        var now = time.GetUtcNow();
        TimeSpan? retryAfter = errorCode switch
        {
            45011 => TimeSpan.FromSeconds(60 - now.Second),
            45009 => UntilNextQuotaReset(now),
            89506 => TimeSpan.FromHours(24),
            89507 => TimeSpan.FromHours(1),
            89501 or 89503 => TimeSpan.FromMinutes(30),
            _ => null,
        };
        var message = kind == WeChatErrorKind.Configuration
            ? $"WeChat error {errorCode} ({kind}) for AppId '{appId}': {errorMessage}. {Hint(errorCode, errorMessage, appId)}"
            : $"WeChat error {errorCode} ({kind}) for AppId '{appId}': {errorMessage}";
        return new WeChatApiException(errorCode, errorMessage, kind, message, retryAfter);
    }

    public static WeChatApiException InvalidResponse(string appId, string problem, HttpStatusCode? status, Exception? inner = null) =>
        new(0, problem, WeChatErrorKind.InvalidResponse, $"WeChat answered the token call for AppId '{appId}' with {problem}.", null, status, inner);

    public static WeChatApiException HttpFailure(string appId, HttpStatusCode status, string bodyKind)
    {
        var code = (int)status;
        var kind = code >= 500 || code == 429 ? WeChatErrorKind.Transient : WeChatErrorKind.Configuration;
        var hint = kind == WeChatErrorKind.Configuration ? " Check WeChatOptions.BaseAddress." : string.Empty;
        return new WeChatApiException(0, $"HTTP {code}", kind, $"WeChat answered the token call for AppId '{appId}' with HTTP {code} and {bodyKind}.{hint}", null, status);
    }

    public static WeChatApiException Unreachable(string appId, HttpRequestException inner) =>
        new(0, "unreachable", WeChatErrorKind.Transient, $"Could not reach WeChat for AppId '{appId}': {inner.Message}", null, inner.StatusCode, inner);

    public static TimeSpan UntilNextQuotaReset(DateTimeOffset now)
    {
        var local = now.ToOffset(QuotaResetOffset);
        var nextMidnight = new DateTimeOffset(local.Date.AddDays(1), QuotaResetOffset);
        return nextMidnight - now;
    }
}
