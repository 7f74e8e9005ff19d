using System.Net;
using BackgroundCache.Platforms;

namespace BackgroundCache.Douyin.Internal;

/// <summary>Maps Douyin's answers to what a client does (docs/douyin.md has the table), and builds the exceptions.</summary>
internal static class DouyinErrors
{
    /// <summary>Douyin's window for the 500-call limit (10020); waiting it out clears the burst.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromMinutes(5);

    public static bool IsTokenRejection(long errorCode) => errorCode is 10008 or 2190002 or 2190008 or 28001003 or 28001008;

    public static DouyinErrorKind Classify(long errorCode) => errorCode switch
    {
        2100004 => DouyinErrorKind.Transient,
        10020 => DouyinErrorKind.RateLimited,
        10003 or 10013 => DouyinErrorKind.InvalidCredentials,
        10002 => DouyinErrorKind.InvalidRequest,
        _ when IsTokenRejection(errorCode) => DouyinErrorKind.InvalidToken,
        _ => DouyinErrorKind.Other,
    };

    public static DouyinApiException FromErrorCode(long errorCode, string description, string clientKey)
    {
        var kind = Classify(errorCode);
        var hint = kind switch
        {
            DouyinErrorKind.InvalidCredentials => " Check DouyinOptions.ClientKey and ClientSecret (a test environment must not use the production key: its fetches replace production's tokens).",
            DouyinErrorKind.RateLimited => " More than 500 token calls in 5 minutes: share one token (Redis coordination or a token hub) instead of fetching per instance.",
            _ => string.Empty,
        };
        return new DouyinApiException(errorCode, description, kind,
            $"Douyin error {errorCode} ({kind}) for client_key '{clientKey}': {description}.{hint}",
            kind == DouyinErrorKind.RateLimited ? RateWindow : null, HttpStatusCode.OK);
    }

    public static DouyinApiException InvalidResponse(string clientKey, string problem, HttpStatusCode? status, Exception? inner = null) =>
        new(0, problem, DouyinErrorKind.InvalidResponse, $"Douyin answered the token call for client_key '{clientKey}' with {problem}.", null, status, inner);

    public static DouyinApiException HttpFailure(string clientKey, PlatformAnswer answer)
    {
        var code = (int)answer.Status;
        var kind = code >= 500 ? DouyinErrorKind.Transient : code == 429 ? DouyinErrorKind.RateLimited : DouyinErrorKind.Other;
        return new DouyinApiException(0, $"HTTP {code}", kind,
            $"Douyin answered the token call for client_key '{clientKey}' with HTTP {code} and {answer.Describe()}.",
            kind == DouyinErrorKind.RateLimited ? answer.RetryAfter ?? RateWindow : answer.RetryAfter, answer.Status);
    }

    public static DouyinApiException Unreachable(string clientKey, Exception inner) =>
        new(0, "unreachable", DouyinErrorKind.Transient, $"Could not reach Douyin for client_key '{clientKey}': {inner.Message}", null, null, inner);
}
