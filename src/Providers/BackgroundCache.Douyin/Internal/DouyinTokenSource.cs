using System.Net.Http.Headers;
using System.Text.Json;
using BackgroundCache.Platforms;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Douyin.Internal;

/// <summary>
/// Fetches a Douyin <c>client_token</c> with <c>POST /oauth/client_token/</c> or <c>POST /oauth/stable_client_token/</c>
/// and declares the endpoint's renewal rule: <c>client_token</c> issues a new token on each fetch and cuts the previous one
/// to 5 minutes (<see cref="TokenRenewal.ReplacesOnFetch"/>: one refresher per cluster, compare-and-invalidate);
/// <c>stable_client_token</c> returns the same token until it expires (<see cref="StableRenewal"/>).
/// </summary>
internal sealed class DouyinTokenSource(string name, IHttpClientFactory httpClientFactory, IOptionsMonitor<DouyinOptions> options, TimeProvider time, ILogger logger)
    : ITokenSource, ITokenRenewalRule
{
    /// <summary>
    /// The stable token is the same for its whole life and a new one only once it has expired: a renewal window of one
    /// second, so a refresh never comes early enough to be handed the old token again (the cache refreshes it at expiry).
    /// </summary>
    internal static readonly TokenRenewal StableRenewal = TokenRenewal.SameUntilWindow(TimeSpan.FromSeconds(1));

    private long _loggedCode;

    public TokenRenewal Renewal => options.Get(name).Stable ? StableRenewal : TokenRenewal.ReplacesOnFetch;

    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var settings = options.Get(name);
        var started = time.GetUtcNow();
        using var request = CreateRequest(settings);
        var answer = await PlatformHttp.SendTokenCallAsync(
            httpClientFactory.CreateClient(settings.HttpClientName),
            request,
            ex => DouyinErrors.Unreachable(settings.ClientKey, ex),
            ex => DouyinErrors.InvalidResponse(settings.ClientKey, "an answer larger than 64 KiB", null, ex),
            cancellationToken).ConfigureAwait(false);
        using var document = answer.TryParseObject();
        if (document is null || !answer.IsSuccess)
        {
            throw answer.IsSuccess
                ? DouyinErrors.InvalidResponse(settings.ClientKey, $"{answer.Describe()} that is not a JSON object", answer.Status)
                : DouyinErrors.HttpFailure(settings.ClientKey, answer);
        }

        var data = document.RootElement.TryGetProperty("data", out var d) ? d : default;
        // The code is in data.error_code; newer answers repeat it (or carry it alone) in extra.error_code.
        var extra = document.RootElement.TryGetProperty("extra", out var e) ? e : default;
        var (errorCode, where) = PlatformHttp.ReadInteger(data, "error_code") is { } code and not 0 ? (code, data) : (PlatformHttp.ReadInteger(extra, "error_code") ?? 0, extra);
        if (errorCode != 0)
        {
            throw Report(DouyinErrors.FromErrorCode(errorCode, PlatformHttp.Redact(PlatformHttp.ReadText(where, "description"), settings.ClientSecret), settings.ClientKey));
        }

        var (value, expiresIn, problem) = PlatformHttp.ReadToken(data, "access_token", "expires_in");
        if (value is null)
        {
            throw DouyinErrors.InvalidResponse(settings.ClientKey, $"a JSON answer with {problem} in data", answer.Status);
        }

        _loggedCode = 0;
        var token = new AccessToken(value, started.AddSeconds(expiresIn));
        Log.TokenFetched(logger, name, settings.Stable, token.Fingerprint, expiresIn);
        return token;
    }

    private DouyinApiException Report(DouyinApiException error)
    {
        if (error.Kind is DouyinErrorKind.InvalidCredentials or DouyinErrorKind.InvalidRequest or DouyinErrorKind.RateLimited && _loggedCode != error.ErrorCode)
        {
            _loggedCode = error.ErrorCode;
            Log.ConfigurationError(logger, name, error.ErrorCode, error.Kind);
        }

        return error;
    }

    private static HttpRequestMessage CreateRequest(DouyinOptions settings)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("client_key", settings.ClientKey);
            writer.WriteString("client_secret", settings.ClientSecret);
            writer.WriteString("grant_type", "client_credential");
            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var path = settings.Stable ? "oauth/stable_client_token/" : "oauth/client_token/";
        return new HttpRequestMessage(HttpMethod.Post, new Uri(settings.BaseAddress, path)) { Content = content };
    }
}
