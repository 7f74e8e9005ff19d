using System.Net;

namespace BackgroundCache.Feishu.Internal;

/// <summary>Feishu's documented codes and their classes (docs/feishu.md lists the sources).</summary>
internal static class FeishuErrors
{
    public const int InvalidParameter = 10003;
    public const int AppTicketInvalid = 10012;
    public const int AppAccessTokenInvalidForTenant = 10013;
    public const int AppSecretInvalid = 10014;
    public const int RateLimited = 99991400;
    public const int IpNotAllowed = 99991401;
    public const int MissingAccessToken = 99991661;
    public const int TenantTokenInvalid = 99991663;
    public const int AppTokenInvalid = 99991664;
    public const int TokenFormatInvalid = 99991671;
    public const int TokenExpired = 99991677;

    /// <summary>Whether a business API's answer says the access token it was sent is invalid or expired.</summary>
    public static bool IsTokenRejection(int code) =>
        code is TenantTokenInvalid or AppTokenInvalid or TokenFormatInvalid or TokenExpired;

    public static FeishuErrorKind Classify(int code) => code switch
    {
        TenantTokenInvalid or AppTokenInvalid or TokenFormatInvalid or TokenExpired or AppAccessTokenInvalidForTenant => FeishuErrorKind.InvalidToken,
        InvalidParameter or AppSecretInvalid => FeishuErrorKind.InvalidCredentials,
        AppTicketInvalid => FeishuErrorKind.InvalidTicket,
        MissingAccessToken => FeishuErrorKind.InvalidRequest,
        IpNotAllowed => FeishuErrorKind.IpNotAllowed,
        RateLimited => FeishuErrorKind.RateLimited,
        _ => FeishuErrorKind.Other,
    };

    public static FeishuApiException FromCode(int code, string? message, string appId, string path, HttpStatusCode status, TimeSpan? retryAfter)
    {
        var kind = Classify(code);
        var hint = kind switch
        {
            FeishuErrorKind.InvalidCredentials => " Check the App ID and App Secret (developer console › Credentials & Basic Info).",
            FeishuErrorKind.IpNotAllowed => " Add this server's egress IP to the app's IP allow-list, or send through a proxy with a fixed IP (HttpClientName).",
            FeishuErrorKind.RateLimited => retryAfter is { } wait ? $" Retry in {wait.TotalSeconds:F0} s." : string.Empty,
            FeishuErrorKind.InvalidTicket => " A new app_ticket is asked for (app_ticket/resend).",
            _ => string.Empty,
        };
        return new FeishuApiException(
            $"Feishu app '{appId}': {path} answered code {code} ({message ?? "no msg"}), HTTP {(int)status}.{hint}",
            code,
            message,
            kind,
            status,
            kind == FeishuErrorKind.RateLimited ? retryAfter ?? TimeSpan.FromSeconds(1) : null);
    }
}
