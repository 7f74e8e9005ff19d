using System.Net.Http.Headers;
using System.Text.Json;
using BackgroundCache.Platforms;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.DingTalk.Internal;

/// <summary>
/// Fetches a DingTalk internal app's access token from the new API (<c>POST /v1.0/oauth2/accessToken</c>) or the legacy
/// <c>GET /gettoken</c>. DingTalk returns the same token within its validity and pushes its expiry out (自动续期), so a
/// refresh ahead of expiry costs one call and nothing else: the source declares <see cref="TokenRenewal.ExtendedOnFetch"/>.
/// </summary>
internal sealed class DingTalkTokenSource(string name, IHttpClientFactory httpClientFactory, IOptionsMonitor<DingTalkOptions> options, TimeProvider time, ILogger logger)
    : ITokenSource, ITokenRenewalRule
{
    private string? _loggedCode;

    public TokenRenewal Renewal => TokenRenewal.ExtendedOnFetch;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var settings = options.Get(name);
        var started = time.GetUtcNow();
        using var request = CreateRequest(settings);
        var answer = await PlatformHttp.SendTokenCallAsync(
            httpClientFactory.CreateClient(settings.HttpClientName),
            request,
            ex => DingTalkErrors.Unreachable(settings.AppKey, ex),
            ex => DingTalkErrors.InvalidResponse(settings.AppKey, "an answer larger than 64 KiB", null, ex),
            cancellationToken).ConfigureAwait(false);
        var (value, expiresIn) = Read(settings, answer);
        _loggedCode = null;
        var token = new AccessToken(value, started.AddSeconds(expiresIn));
        Log.TokenFetched(logger, name, settings.Api, token.Fingerprint, expiresIn);
        return token;
    }

    private (string Value, long ExpiresIn) Read(DingTalkOptions settings, PlatformAnswer answer)
    {
        if (answer.LooksLikeHtml && answer.Contains(DingTalkErrors.IpBanCode))
        {
            throw DingTalkErrors.IpBanned(answer, settings.AppKey);
        }

        using var document = answer.TryParseObject();
        if (document is null)
        {
            throw answer.IsSuccess
                ? DingTalkErrors.InvalidResponse(settings.AppKey, $"{answer.Describe()} that is not a JSON object", answer.Status)
                : DingTalkErrors.HttpFailure(settings.AppKey, answer);
        }

        var root = document.RootElement;
        if (settings.Api == DingTalkApi.Legacy)
        {
            var errorCode = PlatformHttp.ReadInteger(root, "errcode") ?? 0;
            if (errorCode != 0 || !answer.IsSuccess)
            {
                var subCode = PlatformHttp.ReadText(root, "sub_code");
                throw Report(errorCode == 0
                    ? DingTalkErrors.HttpFailure(settings.AppKey, answer)
                    : DingTalkErrors.FromLegacy(errorCode, subCode, PlatformHttp.Redact(PlatformHttp.ReadText(root, "errmsg"), settings.AppSecret), settings.AppKey));
            }

            return Checked(settings, answer, PlatformHttp.ReadToken(root, "access_token", "expires_in"));
        }

        if (!answer.IsSuccess || (root.TryGetProperty("code", out _) && !root.TryGetProperty("accessToken", out _)))
        {
            var code = PlatformHttp.ReadText(root, "code");
            throw Report(code is null
                ? DingTalkErrors.HttpFailure(settings.AppKey, answer)
                : DingTalkErrors.FromNew(answer.Status, code, PlatformHttp.Redact(PlatformHttp.ReadText(root, "message"), settings.AppSecret), answer.RetryAfter, settings.AppKey));
        }

        return Checked(settings, answer, PlatformHttp.ReadToken(root, "accessToken", "expireIn"));
    }

    private static (string Value, long ExpiresIn) Checked(DingTalkOptions settings, PlatformAnswer answer, (string? Token, long ExpiresIn, string? Problem) read) =>
        read.Token is null
            ? throw DingTalkErrors.InvalidResponse(settings.AppKey, $"a JSON answer with {read.Problem}", answer.Status)
            : (read.Token, read.ExpiresIn);

    private DingTalkApiException Report(DingTalkApiException error)
    {
        if (error.Kind is DingTalkErrorKind.InvalidCredentials or DingTalkErrorKind.IpNotAllowed or DingTalkErrorKind.PermissionDenied
            && !string.Equals(_loggedCode, error.ErrorCode, StringComparison.Ordinal))
        {
            _loggedCode = error.ErrorCode;
            Log.ConfigurationError(logger, name, error.Kind, error.ErrorCode);
        }

        return error;
    }

    private static HttpRequestMessage CreateRequest(DingTalkOptions settings)
    {
        if (settings.Api == DingTalkApi.Legacy)
        {
            var uri = new Uri(settings.LegacyBaseAddress, $"gettoken?appkey={Uri.EscapeDataString(settings.AppKey)}&appsecret={Uri.EscapeDataString(settings.AppSecret)}");
            return new HttpRequestMessage(HttpMethod.Get, uri);
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("appKey", settings.AppKey);
            writer.WriteString("appSecret", settings.AppSecret);
            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return new HttpRequestMessage(HttpMethod.Post, new Uri(settings.BaseAddress, "v1.0/oauth2/accessToken")) { Content = content };
    }
}
