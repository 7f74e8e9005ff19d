using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace BackgroundCache.Feishu.Internal;

/// <summary>
/// Sends Feishu's <c>auth/v3</c> requests (a JSON object of string fields) and turns every answer that is not
/// <c>code: 0</c> into a <see cref="FeishuApiException"/> whose text never holds the secrets it was given.
/// </summary>
internal static class FeishuHttp
{
    /// <summary>The most bytes of an auth answer read; Feishu's are well under 1 KiB.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The rate limit answer's header with the seconds until the limit resets.</summary>
    public const string RateLimitResetHeader = "x-ogw-ratelimit-reset";

    public static async Task<JsonDocument> PostAsync(
        HttpClient client,
        Uri baseAddress,
        string path,
        IReadOnlyList<KeyValuePair<string, string>> fields,
        string appId,
        IReadOnlyList<string?> secrets,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, path)) { Content = JsonContent(fields) };
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new FeishuApiException($"Feishu app '{appId}': {path} could not be reached ({ex.GetType().Name}).", 0, null, FeishuErrorKind.Unavailable, null, null, ex);
        }

        using (response)
        {
            var body = await ReadLimitedAsync(response.Content, cancellationToken).ConfigureAwait(false);
            var status = response.StatusCode;
            JsonDocument? document = null;
            try
            {
                document = body is null ? null : JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                document = null;
            }

            if (document is null || document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document?.Dispose();
                var kind = (int)status >= 500 ? FeishuErrorKind.Unavailable : FeishuErrorKind.InvalidResponse;
                var what = body is null ? "a body over 64 KiB" : DescribeNonJson(response);
                throw new FeishuApiException($"Feishu app '{appId}': {path} answered HTTP {(int)status} with {what}, not Feishu's JSON.", 0, null, kind, status, (int)status == 429 ? RetryAfter(response) : null);
            }

            var root = document.RootElement;
            var code = root.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var n) ? n : (int?)null;
            if (code == 0)
            {
                return document;
            }

            var message = root.TryGetProperty("msg", out var m) && m.ValueKind == JsonValueKind.String ? Redact(m.GetString(), secrets) : null;
            document.Dispose();
            if (code is null)
            {
                throw new FeishuApiException($"Feishu app '{appId}': {path} answered HTTP {(int)status} with JSON without a numeric code.", 0, message, FeishuErrorKind.InvalidResponse, status, null);
            }

            throw FeishuErrors.FromCode(code.Value, message, appId, path, status, RetryAfter(response));
        }
    }

    /// <summary>Reads a token from an answer: the string field <paramref name="field"/> and the seconds in <c>expire</c>.</summary>
    public static (string Value, int Expire) ReadToken(JsonElement root, string field, string appId, string path)
    {
        var value = root.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var expire = root.TryGetProperty("expire", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var s) ? s : 0;
        if (string.IsNullOrEmpty(value) || expire <= 0)
        {
            throw new FeishuApiException($"Feishu app '{appId}': {path} answered code 0 without {field} or a positive expire.", 0, null, FeishuErrorKind.InvalidResponse, HttpStatusCode.OK, null);
        }

        return (value!, expire);
    }

    public static ByteArrayContent JsonContent(IReadOnlyList<KeyValuePair<string, string>> fields)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var field in fields)
            {
                writer.WriteString(field.Key, field.Value);
            }

            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    /// <summary>The wait a rate-limited answer asks for: <c>x-ogw-ratelimit-reset</c> (seconds), else <c>Retry-After</c>.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues(RateLimitResetHeader, out var values)
            && int.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            && seconds >= 0)
        {
            return TimeSpan.FromSeconds(Math.Min(seconds, 3600));
        }

        return response.Headers.RetryAfter?.Delta;
    }

    /// <summary>Peeks the <c>code</c> of a small JSON body; 0 when there is none.</summary>
    public static int PeekCode(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("code", out var c)
                && c.ValueKind == JsonValueKind.Number
                && c.TryGetInt32(out var code) ? code : 0;
        }
        catch (JsonException)
        {
            return 0;
        }
    }

    internal static string? Redact(string? text, IReadOnlyList<string?> secrets)
    {
        if (text is null)
        {
            return null;
        }

        foreach (var secret in secrets)
        {
            if (!string.IsNullOrEmpty(secret))
            {
                text = text.Replace(secret, "***");
            }
        }

        return text;
    }

    private static string DescribeNonJson(HttpResponseMessage response)
    {
        var type = response.Content.Headers.ContentType?.MediaType;
        return type is null ? "a body that is not JSON" : $"a {type} body";
    }

    private static async Task<byte[]?> ReadLimitedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is > MaxBodyBytes)
        {
            return null;
        }

#if NET
        using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
#else
        using var stream = await content.ReadAsStreamAsync().ConfigureAwait(false);
#endif
        var buffer = new byte[MaxBodyBytes + 1];
        var total = 0;
        int read;
#if NET
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
#else
        while (total < buffer.Length && (read = await stream.ReadAsync(buffer, total, buffer.Length - total, cancellationToken).ConfigureAwait(false)) > 0)
#endif
        {
            total += read;
        }

        if (total > MaxBodyBytes)
        {
            return null;
        }

        var result = new byte[total];
        Buffer.BlockCopy(buffer, 0, result, 0, total);
        return result;
    }
}
