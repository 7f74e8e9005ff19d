using System.Net;
using System.Text;
using System.Text.Json;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Reads WeChat answers defensively: bounded size, JSON or not, errcode first.
/// </summary>
internal static class WeChatJson
{
    /// <summary>Longest answer read; a token answer is a few hundred bytes.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>WeChat says tokens are at most 512 characters.</summary>
    public const int MaxTokenLength = 512;

    /// <summary>WeChat documents at most 7200 s; anything beyond a day is nonsense.</summary>
    public const long MaxExpiresInSeconds = 86_400;

    public static async Task<(HttpStatusCode Status, string? MediaType, byte[] Body)> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > MaxBodyBytes)
                {
                    throw new InvalidDataException($"The answer is larger than {MaxBodyBytes} bytes.");
                }

                buffer.Write(chunk, 0, read);
            }

            return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, buffer.ToArray());
        }
    }

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
            answer = await ReadAsync(response, cancellationToken).ConfigureAwait(false);
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
            throw WeChatErrors.HttpFailure(appId, answer.Status, DescribeBody(answer.MediaType, answer.Body));
        }

        if (!IsValidUtf8(answer.Body))
        {
            // System.Text.Json reads such a body but throws InvalidOperationException when a string is read from it.
            throw WeChatErrors.InvalidResponse(appId, $"{DescribeBody(answer.MediaType, answer.Body)} that is not valid UTF-8", answer.Status);
        }

        return TryParse(answer.Body)
            ?? throw WeChatErrors.InvalidResponse(appId, $"{DescribeBody(answer.MediaType, answer.Body)} that is not a JSON object", answer.Status);
    }

    public static string DescribeBody(string? mediaType, byte[] body)
    {
        if (body.Length == 0)
        {
            return "an empty body";
        }

        var start = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 64)).TrimStart();
        if (start.StartsWith('<') || (mediaType?.Contains("html", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return "an HTML page";
        }

        return $"a {mediaType ?? "body"} of {body.Length} bytes";
    }

    /// <summary>Parses a JSON object, or returns null when the body is not one (invalid UTF-8 included).</summary>
    public static JsonDocument? TryParse(byte[] body)
    {
        if (!IsValidUtf8(body))
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads errcode (WeChat omits it on success for tokens; missing is 0) and errmsg, with <paramref name="secret"/> redacted
    /// in any obvious encoding and the text cut to <see cref="WeChatText.MaxErrorMessageLength"/> characters: the message is
    /// copied into exceptions, logs, health reports and status pages.
    /// </summary>
    public static (int Code, string Message) GetError(JsonElement root, string? secret)
    {
        var code = root.TryGetProperty("errcode", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var c) ? c : 0;
        var message = root.TryGetProperty("errmsg", out var m) ? TryGetString(m) ?? "(errmsg is not readable text)" : string.Empty;
        return (code, WeChatText.SanitizeErrorMessage(message, secret));
    }

    /// <summary>A string's text, or null when it is not a string or not valid text (an escaped lone surrogate).</summary>
    public static string? TryGetString(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Reads errcode from a small JSON answer without failing on anything else.</summary>
    public static int PeekErrorCode(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return 0;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isCode = reader.ValueTextEquals("errcode"u8);
                if (!reader.Read())
                {
                    return 0;
                }

                if (isCode)
                {
                    return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var code) ? code : 0;
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
            return 0;
        }

        return 0;
    }

    /// <summary>Reads <c>{"access_token"|"ticket": "...", "expires_in": n}</c>; null with a problem when invalid.</summary>
    public static (string? Value, long ExpiresIn, string? Problem) ReadSecret(JsonElement root, string valueProperty)
    {
        if (!root.TryGetProperty(valueProperty, out var value) || value.ValueKind != JsonValueKind.String)
        {
            return (null, 0, $"no {valueProperty}");
        }

        var text = TryGetString(value);
        if (text is null)
        {
            return (null, 0, $"a {valueProperty} that is not valid text");
        }

        if (text.Length == 0)
        {
            return (null, 0, $"no {valueProperty}");
        }

        if (text.Length > MaxTokenLength)
        {
            return (null, 0, $"a {valueProperty} longer than {MaxTokenLength} characters");
        }

        if (!root.TryGetProperty("expires_in", out var expires) || expires.ValueKind != JsonValueKind.Number || !expires.TryGetInt64(out var seconds))
        {
            return (null, 0, "no numeric expires_in");
        }

        if (seconds <= 0 || seconds > MaxExpiresInSeconds)
        {
            return (null, 0, $"expires_in {seconds} outside 1..{MaxExpiresInSeconds}");
        }

        return (text, seconds, null);
    }

    private static bool IsValidUtf8(byte[] bytes)
    {
#if NETSTANDARD2_0
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
#else
        return System.Text.Unicode.Utf8.IsValid(bytes);
#endif
    }
}
