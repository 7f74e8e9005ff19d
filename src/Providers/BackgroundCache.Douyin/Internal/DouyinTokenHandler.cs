using BackgroundCache.Platforms;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Douyin.Internal;

/// <summary>
/// Puts the Douyin client_token in the <c>access-token</c> header of each request, and retries once after an invalid or
/// expired token answer (<c>err_no</c>, <c>data.error_code</c> or <c>extra.error_code</c> 10008, 2190002, 2190008,
/// 28001003 or 28001008).
/// </summary>
internal sealed class DouyinTokenHandler(IRefreshingCache<AccessToken> cache, string cacheName, ILogger logger) : PlatformTokenHandler(cache, cacheName, logger)
{
    public const string HeaderName = "access-token";

    protected override string Platform => "Douyin";

    protected override void Attach(HttpRequestMessage request, string token)
    {
        request.Headers.Remove(HeaderName);
        request.Headers.TryAddWithoutValidation(HeaderName, token);
    }

    protected override string? ReadTokenRejection(PlatformAnswer answer)
    {
        using var document = answer.TryParseObject();
        if (document is null)
        {
            return null;
        }

        var root = document.RootElement;
        long?[] codes =
        [
            PlatformHttp.ReadInteger(root, "err_no"),
            root.TryGetProperty("data", out var data) ? PlatformHttp.ReadInteger(data, "error_code") : null,
            root.TryGetProperty("extra", out var extra) ? PlatformHttp.ReadInteger(extra, "error_code") : null,
        ];
        return codes.FirstOrDefault(c => c is { } code && DouyinErrors.IsTokenRejection(code)) is { } rejected
            ? rejected.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }
}
