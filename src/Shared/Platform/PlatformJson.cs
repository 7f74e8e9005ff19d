using System.Net;
using System.Text;
using System.Text.Json;

namespace BackgroundCache.Platform;

/// <summary>
/// Reads platform answers defensively (WeChat, WeCom): bounded size, JSON or not, described without their content.
/// </summary>
internal static class PlatformJson
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

    public static bool IsValidUtf8(byte[] bytes)
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
