using System.Net;
using System.Text;
using System.Text.Json;
using BackgroundCache.Platform;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Reads WeChat answers defensively: bounded size, JSON or not, errcode first.
/// </summary>
internal static class WeChatJson
{
    /// <summary>
    /// Sends a WeChat API call and returns its JSON object: unreachable, non-2xx, oversized and non-JSON answers become a
    /// <see cref="WeChatApiException"/>. The caller checks errcode and the payload.
    /// </summary>
    public static async Task<JsonDocument> SendAsync(HttpClient client, HttpRequestMessage request, string appId, CancellationToken cancellationToken)
    {
        (HttpStatusCode Status, string? MediaType, byte[] Body) answer;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            answer = await PlatformJson.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw WeChatErrors.Unreachable(appId, ex);
        }
        catch (IOException ex)
        {
            throw WeChatErrors.Unreachable(appId, new HttpRequestException(ex.Message, ex));
        }
        catch (InvalidDataException ex)
        {
            throw WeChatErrors.InvalidResponse(appId, "an answer larger than 64 KiB", null, ex);
        }

        if ((int)answer.Status is < 200 or > 299)
        {
            throw WeChatErrors.HttpFailure(appId, answer.Status, PlatformJson.DescribeBody(answer.MediaType, answer.Body));
        }

        if (!PlatformJson.IsValidUtf8(answer.Body))
        {
            // System.Text.Json reads such a body but throws InvalidOperationException when a string is read from it.
            throw WeChatErrors.InvalidResponse(appId, $"{PlatformJson.DescribeBody(answer.MediaType, answer.Body)} that is not valid UTF-8", answer.Status);
        }

        return PlatformJson.TryParse(answer.Body)
            ?? throw WeChatErrors.InvalidResponse(appId, $"{PlatformJson.DescribeBody(answer.MediaType, answer.Body)} that is not a JSON object", answer.Status);
    }

    /// <summary>
    /// Reads errcode (WeChat omits it on success for tokens; missing is 0) and errmsg, with <paramref name="secret"/> redacted
    /// in any obvious encoding and the text cut to <see cref="WeChatText.MaxErrorMessageLength"/> characters: the message is
    /// copied into exceptions, logs, health reports and status pages.
    /// </summary>
    public static (int Code, string Message) GetError(JsonElement root, string? secret)
    {
        var code = root.TryGetProperty("errcode", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var c) ? c : 0;
        var message = root.TryGetProperty("errmsg", out var m) ? PlatformJson.TryGetString(m) ?? "(errmsg is not readable text)" : string.Empty;
        return (code, WeChatText.SanitizeErrorMessage(message, secret));
    }

    /// <summary>Reads <c>{"access_token"|"ticket": "...", "expires_in": n}</c>; null with a problem when invalid.</summary>
    public static (string? Value, long ExpiresIn, string? Problem) ReadSecret(JsonElement root, string valueProperty)
    {
        if (!root.TryGetProperty(valueProperty, out var value) || value.ValueKind != JsonValueKind.String)
        {
            return (null, 0, $"no {valueProperty}");
        }

        var text = PlatformJson.TryGetString(value);
        if (text is null)
        {
            return (null, 0, $"a {valueProperty} that is not valid text");
        }

        if (text.Length == 0)
        {
            return (null, 0, $"no {valueProperty}");
        }

        if (text.Length > PlatformJson.MaxTokenLength)
        {
            return (null, 0, $"a {valueProperty} longer than {PlatformJson.MaxTokenLength} characters");
        }

        if (!root.TryGetProperty("expires_in", out var expires) || expires.ValueKind != JsonValueKind.Number || !expires.TryGetInt64(out var seconds))
        {
            return (null, 0, "no numeric expires_in");
        }

        if (seconds <= 0 || seconds > PlatformJson.MaxExpiresInSeconds)
        {
            return (null, 0, $"expires_in {seconds} outside 1..{PlatformJson.MaxExpiresInSeconds}");
        }

        return (text, seconds, null);
    }
}
