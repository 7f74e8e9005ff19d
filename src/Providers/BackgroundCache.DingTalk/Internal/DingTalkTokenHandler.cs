using System.Text.RegularExpressions;
using BackgroundCache.Platforms;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.DingTalk.Internal;

/// <summary>
/// Puts the DingTalk access token on each request: the <c>x-acs-dingtalk-access-token</c> header for the new API (paths
/// <c>/v1.0/…</c>, <c>/v2.0/…</c>), the <c>access_token</c> query parameter for the legacy API (every other path). Retries
/// once after the invalid-token answers: legacy errcode 40001, 40014 (also sent for an expired token), 42001, or 88 with
/// one of them as <c>sub_code</c>; new API HTTP 401 with <c>code</c> <c>InvalidAuthentication</c>.
/// </summary>
internal sealed class DingTalkTokenHandler(IRefreshingCache<AccessToken> cache, string cacheName, ILogger logger) : PlatformTokenHandler(cache, cacheName, logger)
{
    public const string HeaderName = "x-acs-dingtalk-access-token";

    private static readonly Regex NewApiPath = new("^/v[0-9]+\\.[0-9]+/", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    protected override string Platform => "DingTalk";

    internal static bool IsNewApi(Uri? uri) => uri is not null && uri.IsAbsoluteUri && NewApiPath.IsMatch(uri.AbsolutePath);

    protected override void Attach(HttpRequestMessage request, string token)
    {
        var uri = request.RequestUri ?? throw new InvalidOperationException("The request has no URI.");
        if (IsNewApi(uri))
        {
            request.Headers.Remove(HeaderName);
            request.Headers.TryAddWithoutValidation(HeaderName, token);
        }
        else
        {
            request.RequestUri = WithQueryParameter(uri, "access_token", token);
        }
    }

    protected override string? ReadTokenRejection(PlatformAnswer answer)
    {
        using var document = answer.TryParseObject();
        if (document is null)
        {
            return null;
        }

        var root = document.RootElement;
        if (PlatformHttp.ReadInteger(root, "errcode") is { } errorCode && DingTalkErrors.IsLegacyTokenRejection(errorCode, PlatformHttp.ReadText(root, "sub_code")))
        {
            return errorCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var code = PlatformHttp.ReadText(root, "code");
        return !answer.IsSuccess && DingTalkErrors.IsNewTokenRejection(code) ? code : null;
    }
}
