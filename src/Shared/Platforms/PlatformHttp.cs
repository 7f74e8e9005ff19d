using System.Net;
using System.Text;
using System.Text.Json;

namespace BackgroundCache.Platforms;

/// <summary>One answer of a platform's token or business API, read with a size bound.</summary>
internal sealed class PlatformAnswer(HttpStatusCode status, string? mediaType, byte[] body, TimeSpan? retryAfter)
{
    public HttpStatusCode Status { get; } = status;

    public string? MediaType { get; } = mediaType;

    public byte[] Body { get; } = body;

    /// <summary>Gets the answer's <c>Retry-After</c> header, when it had one.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public bool IsSuccess => (int)Status is >= 200 and <= 299;

    public bool LooksLikeHtml
    {
        get
        {
            if (MediaType is not null && MediaType.Contains("html", StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            var start = Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 64)).TrimStart();
            return start.Length > 0 && start[0] == '<';
        }
    }

    /// <summary>Parses the body as a JSON object; null when it is not valid UTF-8 JSON with an object at its root.</summary>
    public JsonDocument? TryParseObject()
    {
        try
        {
            _ = new UTF8Encoding(false, true).GetCharCount(Body);
            var document = JsonDocument.Parse(Body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (Exception ex) when (ex is JsonException or DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>Whether the body contains <paramref name="text"/> (an HTML ban page's code, say).</summary>
    public bool Contains(string text) => Encoding.UTF8.GetString(Body).Contains(text, StringComparison.Ordinal);

    /// <summary>Describes the body for an exception message, never quoting it (it may echo a secret).</summary>
    public string Describe() => LooksLikeHtml
        ? "an HTML page"
        : $"a {(MediaType ?? "body without content type")} of {Body.Length} bytes";
}

/// <summary>
/// Sends a platform API call and reads its answer defensively (bounded size); shared by the platform packages as source, so
/// no package sees another's internals.
/// </summary>
internal static class PlatformHttp
{
    /// <summary>The longest answer read: a token answer is a few hundred bytes.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The longest <c>expires_in</c> believed: anything beyond a day is nonsense.</summary>
    public const long MaxExpiresInSeconds = 86_400;

    /// <summary>The longest token believed.</summary>
    public const int MaxTokenLength = 2048;

    /// <summary>
    /// Sends <paramref name="request"/> and reads the whole answer. Network failures surface as <see cref="HttpRequestException"/>;
    /// an answer over <see cref="MaxBodyBytes"/> as <see cref="InvalidDataException"/>.
    /// </summary>
    public static async Task<PlatformAnswer> SendAsync(HttpClient client, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            return await ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new HttpRequestException(ex.Message, ex);
        }
    }

    /// <summary>
    /// Sends a token call and reads its answer, turning a network failure into <paramref name="unreachable"/>'s exception and
    /// an oversized answer into <paramref name="tooLarge"/>'s: the one place a platform's token source talks HTTP.
    /// </summary>
    public static async Task<PlatformAnswer> SendTokenCallAsync(
        HttpClient client,
        HttpRequestMessage request,
        Func<HttpRequestException, Exception> unreachable,
        Func<InvalidDataException, Exception> tooLarge,
        CancellationToken cancellationToken)
    {
        try
        {
            return await SendAsync(client, request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw unreachable(ex);
        }
        catch (InvalidDataException ex)
        {
            throw tooLarge(ex);
        }
    }

    /// <summary>Reads an answer (bounded); the content stays readable when it was buffered first.</summary>
    public static async Task<PlatformAnswer> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
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

        return new PlatformAnswer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, buffer.ToArray(), RetryAfterOf(response));
    }

    /// <summary>
    /// Reads a token and its lifetime from <paramref name="element"/>: the token a non-empty string of at most
    /// <see cref="MaxTokenLength"/> characters, the lifetime a positive number of seconds (or a numeric string) of at most a
    /// day. Returns a description of what is wrong otherwise.
    /// </summary>
    public static (string? Token, long ExpiresIn, string? Problem) ReadToken(JsonElement element, string tokenProperty, string expiresProperty)
    {
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty(tokenProperty, out var token)
            || token.ValueKind != JsonValueKind.String
            || string.IsNullOrWhiteSpace(token.GetString()))
        {
            return (null, 0, $"no {tokenProperty}");
        }

        var value = token.GetString()!;
        if (value.Length > MaxTokenLength)
        {
            return (null, 0, $"a {tokenProperty} longer than {MaxTokenLength} characters");
        }

        if (!element.TryGetProperty(expiresProperty, out var expires) || !TryReadSeconds(expires, out var seconds))
        {
            return (null, 0, $"no valid {expiresProperty}");
        }

        if (seconds <= 0 || seconds > MaxExpiresInSeconds)
        {
            return (null, 0, $"{expiresProperty} {seconds} outside 1..{MaxExpiresInSeconds}");
        }

        return (value, seconds, null);
    }

    /// <summary>Reads a string or number property as text, or null.</summary>
    public static string? ReadText(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;

    /// <summary>Reads an integer property (a number, or a string of digits), or null.</summary>
    public static long? ReadInteger(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && TryReadSeconds(value, out var number)
            ? number
            : null;

    /// <summary>Removes every occurrence of <paramref name="secret"/> from a text an upstream returned.</summary>
    public static string Redact(string? text, string? secret) =>
        string.IsNullOrEmpty(text)
            ? string.Empty
            : string.IsNullOrEmpty(secret) ? text! : text!.Replace(secret, "***");

    private static bool TryReadSeconds(JsonElement value, out long seconds)
    {
        seconds = 0;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt64(out seconds),
            JsonValueKind.String => long.TryParse(value.GetString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out seconds),
            _ => false,
        };
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        return null;
    }
}
