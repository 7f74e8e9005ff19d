using System.Net;

namespace BackgroundCache.WeCom.Internal;

/// <summary>Maps WeCom's errcodes (developer.work.weixin.qq.com/document/path/90313) to what a client does. Branches on errcode only.</summary>
internal static class WeComErrors
{
    /// <summary>A minute-block (45009) lasts until the minute ends; WeCom does not say which window was hit, so one minute.</summary>
    public static readonly TimeSpan RateLimitPause = TimeSpan.FromMinutes(1);

    /// <summary>Too many concurrent calls (45033): a short pause is enough.</summary>
    public static readonly TimeSpan ConcurrencyPause = TimeSpan.FromSeconds(1);

    /// <summary>Codes that a new token of the same app fixes: invalid (40014) and expired (42001); suite tokens 40082 and 42009.</summary>
    public static bool IsTokenRejection(int errorCode) => errorCode is 40014 or 42001 or 40082 or 42009;

    public static WeComErrorKind Classify(int errorCode) => errorCode switch
    {
        -1 => WeComErrorKind.Transient,
        40014 or 42001 or 40082 or 42009 => WeComErrorKind.InvalidToken,
        41001 => WeComErrorKind.MissingToken,
        301002 => WeComErrorKind.TokenOfAnotherApp,
        45009 or 45033 => WeComErrorKind.RateLimited,
        40001 or 40013 or 40056 or 41002 or 41004 or 60020 or 40089 or 40086 or 40091 => WeComErrorKind.Configuration,
        40084 or 84014 or 84015 => WeComErrorKind.AuthorizationRevoked,
        _ => WeComErrorKind.Other,
    };

    /// <summary>What to fix, for configuration errors; never includes a secret.</summary>
    public static string Hint(int errorCode, string subject) => errorCode switch
    {
        40001 => $"WeCom refused the secret of {subject}: check the app's secret (it may have been reset in the admin console).",
        40013 => $"WeCom does not know the CorpId of {subject}: check CorpId.",
        40056 => $"The AgentId of {subject} is not an app of this corp: check AgentId.",
        41002 => $"The CorpId of {subject} is missing.",
        41004 => $"The secret of {subject} is missing.",
        60020 => $"This server's IP is not a trusted IP (企业可信IP) of {subject}: add it in the admin console, or call from a server with a trusted egress IP.",
        40086 or 40089 => $"WeCom refused the SuiteId or SuiteSecret of {subject}.",
        40091 => $"WeCom refused the secret of {subject} (wrong type of secret).",
        301002 => $"The token used belongs to another app than {subject}: each app has its own secret and token; check the cache name the client uses.",
        _ => "see WeCom's documentation of this errcode.",
    };

    public static WeComApiException FromErrorCode(int errorCode, string errorMessage, string subject)
    {
        var kind = Classify(errorCode);
        TimeSpan? retryAfter = errorCode switch
        {
            45009 => RateLimitPause,
            45033 => ConcurrencyPause,
            _ => null,
        };
        var message = kind is WeComErrorKind.Configuration or WeComErrorKind.TokenOfAnotherApp
            ? $"WeCom error {errorCode} ({kind}) for {subject}: {errorMessage}. {Hint(errorCode, subject)}"
            : $"WeCom error {errorCode} ({kind}) for {subject}: {errorMessage}";
        return new WeComApiException(errorCode, errorMessage, kind, message, retryAfter);
    }

    public static WeComApiException InvalidResponse(string subject, string problem, HttpStatusCode? status, Exception? inner = null) =>
        new(0, problem, WeComErrorKind.InvalidResponse, $"WeCom answered the call for {subject} with {problem}.", null, status, inner);

    public static WeComApiException HttpFailure(string subject, HttpStatusCode status, string bodyKind)
    {
        var code = (int)status;
        var kind = code >= 500 || code == 429 ? WeComErrorKind.Transient : WeComErrorKind.Configuration;
        var hint = kind == WeComErrorKind.Configuration ? " Check BaseAddress." : string.Empty;
        return new WeComApiException(0, $"HTTP {code}", kind, $"WeCom answered the call for {subject} with HTTP {code} and {bodyKind}.{hint}", null, status);
    }

    public static WeComApiException Unreachable(string subject, Exception inner) =>
        new(0, "unreachable", WeComErrorKind.Transient, $"Could not reach WeCom for {subject}: {inner.Message}", null, (inner as HttpRequestException)?.StatusCode, inner);
}
