using System.Net;
using System.Text.Json;
using BackgroundCache.Platform;

namespace BackgroundCache.WeCom.Internal;

/// <summary>
/// One WeCom call: sends, reads the bounded answer, and returns its JSON object when errcode is 0; everything else (an
/// unreachable host, non-2xx, HTML, non-JSON, an errcode) becomes a <see cref="WeComApiException"/> with the secrets redacted.
/// </summary>
internal static class WeComApi
{
    public static async Task<JsonDocument> CallAsync(HttpClient client, HttpRequestMessage request, string subject, IReadOnlyList<string?> secrets, CancellationToken cancellationToken)
    {
        (HttpStatusCode Status, string? MediaType, byte[] Body) answer;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            answer = await PlatformJson.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            throw WeComErrors.Unreachable(subject, ex);
        }
        catch (InvalidDataException ex)
        {
            throw WeComErrors.InvalidResponse(subject, "an answer larger than 64 KiB", null, ex);
        }

        var described = PlatformJson.DescribeBody(answer.MediaType, answer.Body);
        if ((int)answer.Status is < 200 or > 299)
        {
            throw WeComErrors.HttpFailure(subject, answer.Status, described);
        }

        var document = PlatformJson.TryParse(answer.Body)
            ?? throw WeComErrors.InvalidResponse(subject, $"{described} that is not a JSON object", answer.Status);
        var root = document.RootElement;
        var code = root.TryGetProperty("errcode", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var c) ? c : 0;
        if (code == 0)
        {
            return document;
        }

        var message = root.TryGetProperty("errmsg", out var m) ? PlatformJson.TryGetString(m) ?? "(errmsg is not readable text)" : string.Empty;
        document.Dispose();
        foreach (var secret in secrets)
        {
            message = WeChatText.Redact(message, secret ?? string.Empty);
        }

        throw WeComErrors.FromErrorCode(code, WeChatText.Truncate(message, WeChatText.MaxErrorMessageLength), subject);
    }

    /// <summary>Reads a secret value (token, ticket, code) of at most 512 characters and its <c>expires_in</c>.</summary>
    public static (string Value, long ExpiresIn) ReadExpiring(JsonElement root, string valueProperty, string subject)
    {
        var value = ReadString(root, valueProperty, subject);
        if (!root.TryGetProperty("expires_in", out var expires) || expires.ValueKind != JsonValueKind.Number || !expires.TryGetInt64(out var seconds)
            || seconds <= 0 || seconds > PlatformJson.MaxExpiresInSeconds)
        {
            throw WeComErrors.InvalidResponse(subject, $"an answer without a numeric expires_in in 1..{PlatformJson.MaxExpiresInSeconds}", null);
        }

        return (value, seconds);
    }

    public static string ReadString(JsonElement root, string property, string subject) =>
        root.TryGetProperty(property, out var value) && PlatformJson.TryGetString(value) is { Length: > 0 and <= PlatformJson.MaxTokenLength } text
            ? text
            : throw WeComErrors.InvalidResponse(subject, $"an answer without a valid {property}", null);

    /// <summary>The JSON body of a POST.</summary>
    public static HttpContent Json(params (string Name, string Value)[] properties)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in properties)
            {
                writer.WriteString(name, value);
            }

            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }
}
