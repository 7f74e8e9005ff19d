using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.OAuth.Internal;

/// <summary>
/// Sends client credentials token requests and reads their answers; resolves and caches the token endpoint of an authority
/// through OpenID Connect discovery. One per service provider, shared by every client credentials cache and set.
/// </summary>
internal sealed class OAuthTokenClient(IHttpClientFactory httpClientFactory, TimeProvider time, ILoggerFactory loggerFactory)
{
    /// <summary>The largest token or discovery answer read (tokens are a few KB; Feishu asks to reserve 4 KB).</summary>
    internal const int MaxBodyBytes = 256 * 1024;

    private static readonly HashSet<string> PermanentErrors = new(StringComparer.Ordinal)
    {
        "invalid_request", "invalid_client", "unauthorized_client", "invalid_scope", "invalid_grant", "unsupported_grant_type", "invalid_target",
    };

    private readonly ConcurrentDictionary<string, Discovered> _discovered = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggerFactory.CreateLogger("BackgroundCache.OAuth");

    public TimeProvider Time { get; } = time;

    public async ValueTask<AccessToken> RequestTokenAsync(string cacheName, ClientCredentialsOptions options, CancellationToken cancellationToken)
    {
        var (endpoint, issuer) = options.TokenEndpoint is { } configured
            ? (configured, null)
            : await DiscoverAsync(cacheName, options, cancellationToken).ConfigureAwait(false);
        var started = Time.GetUtcNow();
        var audience = options.ClientAssertionAudience ?? issuer ?? endpoint.AbsoluteUri;
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = CreateBody(options, audience, started) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (options.ClientAuthentication == ClientAuthenticationMethod.BasicHeader)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", BasicCredentials(options.ClientId, options.ClientSecret ?? string.Empty));
        }

        var (status, headers, body, mediaType) = await SendAsync(cacheName, options, request, "token endpoint", cancellationToken).ConfigureAwait(false);
        var json = TryParseObject(body);
        if (status is < 200 or > 299)
        {
            throw ErrorAnswer(cacheName, endpoint, status, headers, json, mediaType);
        }

        if (json is null)
        {
            throw NotJson(cacheName, "token endpoint", endpoint, status, headers, mediaType);
        }

        using (json)
        {
            var root = json.RootElement;
            if (!root.TryGetProperty("access_token", out var tokenElement) || tokenElement.ValueKind != JsonValueKind.String || tokenElement.GetString() is not { Length: > 0 } value)
            {
                throw new OAuthTokenException(
                    $"Client credentials token '{cacheName}': the token endpoint {endpoint} answered {status} without an access_token.",
                    null,
                    null,
                    (HttpStatusCode)status,
                    isTransient: false,
                    retryAfter: null);
            }

            return new AccessToken(value, ExpiresAt(root, value, started, options.DefaultLifetime));
        }
    }

    /// <summary>Form-encodes id and secret before Base64, as RFC 6749 §2.3.1 requires of client_secret_basic.</summary>
    internal static string BasicCredentials(string clientId, string clientSecret) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(FormEncode(clientId) + ":" + FormEncode(clientSecret)));

    internal static string FormEncode(string value) => Uri.EscapeDataString(value).Replace("%20", "+");

    /// <summary><c>expires_in</c> if the answer has it, else the JWT's <c>exp</c>, else <paramref name="defaultLifetime"/>.</summary>
    internal static DateTimeOffset ExpiresAt(JsonElement root, string token, DateTimeOffset issuedAt, TimeSpan defaultLifetime)
    {
        if (root.TryGetProperty("expires_in", out var expiresIn))
        {
            double seconds = 0;
            var known = expiresIn.ValueKind switch
            {
                JsonValueKind.Number => expiresIn.TryGetDouble(out seconds),
                JsonValueKind.String => double.TryParse(expiresIn.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out seconds),
                _ => false,
            };
            if (known && seconds > 0 && seconds < TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return issuedAt + TimeSpan.FromSeconds(seconds);
            }
        }

        return JwtExpiry(token) is { } exp && exp > issuedAt ? exp : issuedAt + defaultLifetime;
    }

    internal static DateTimeOffset? JwtExpiry(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3 || Base64Url.TryDecode(parts[1]) is not { } payload)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(payload);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("exp", out var exp)
                && exp.ValueKind == JsonValueKind.Number
                && exp.TryGetInt64(out var seconds)
                && seconds is > 0 and < 253402300799
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static FormUrlEncodedContent CreateBody(ClientCredentialsOptions options, string audience, DateTimeOffset now)
    {
        var form = new List<KeyValuePair<string, string>> { new("grant_type", "client_credentials") };
        if (!string.IsNullOrWhiteSpace(options.Scope))
        {
            form.Add(new("scope", options.Scope!));
        }

        if (!string.IsNullOrWhiteSpace(options.Resource))
        {
            form.Add(new("resource", options.Resource!));
        }

        foreach (var pair in options.Parameters)
        {
            form.Add(pair);
        }

        switch (options.ClientAuthentication)
        {
            case ClientAuthenticationMethod.RequestBody:
                form.Add(new("client_id", options.ClientId));
                form.Add(new("client_secret", options.ClientSecret ?? string.Empty));
                break;
            case ClientAuthenticationMethod.PrivateKeyJwt:
                form.Add(new("client_id", options.ClientId));
                form.Add(new("client_assertion_type", ClientAssertion.AssertionType));
                form.Add(new("client_assertion", ClientAssertion.Create(options, audience, now)));
                break;
        }

        return new FormUrlEncodedContent(form);
    }

    private async ValueTask<(Uri TokenEndpoint, string? Issuer)> DiscoverAsync(string cacheName, ClientCredentialsOptions options, CancellationToken cancellationToken)
    {
        var authority = options.Authority!;
        var key = options.HttpClientName + " " + authority.AbsoluteUri;
        var now = Time.GetUtcNow();
        _discovered.TryGetValue(key, out var known);
        if (known is not null && now - known.ReadAt < options.DiscoveryCacheDuration)
        {
            return (known.TokenEndpoint, known.Issuer);
        }

        try
        {
            var (endpoint, issuer) = await ReadDiscoveryAsync(cacheName, options, authority, cancellationToken).ConfigureAwait(false);
            _discovered[key] = new Discovered(endpoint, issuer, now);
            Log.DiscoveryRefreshed(_logger, authority, endpoint);
            return (endpoint, issuer);
        }
        catch (OAuthTokenException ex) when (known is not null)
        {
            // The issuer's discovery is down or broken: the endpoint it named last time is still the best guess; try
            // the document again at the next token call.
            Log.DiscoveryFailedUsingKnown(_logger, ex, authority, known.TokenEndpoint);
            return (known.TokenEndpoint, known.Issuer);
        }
    }

    private async Task<(Uri TokenEndpoint, string? Issuer)> ReadDiscoveryAsync(string cacheName, ClientCredentialsOptions options, Uri authority, CancellationToken cancellationToken)
    {
        var document = new Uri(authority.AbsoluteUri[authority.AbsoluteUri.Length - 1] == '/' ? authority : new Uri(authority.AbsoluteUri + "/"), ".well-known/openid-configuration");
        using var request = new HttpRequestMessage(HttpMethod.Get, document);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var (status, headers, body, mediaType) = await SendAsync(cacheName, options, request, "discovery document", cancellationToken).ConfigureAwait(false);
        using var json = TryParseObject(body);
        if (status is < 200 or > 299 || json is null)
        {
            throw NotJson(cacheName, "discovery document", document, status, headers, mediaType);
        }

        if (json.RootElement.TryGetProperty("token_endpoint", out var element)
            && element.ValueKind == JsonValueKind.String
            && Uri.TryCreate(element.GetString(), UriKind.Absolute, out var endpoint)
            && (endpoint.Scheme == Uri.UriSchemeHttps || endpoint.Scheme == Uri.UriSchemeHttp))
        {
            var issuer = json.RootElement.TryGetProperty("issuer", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            return (endpoint, issuer);
        }

        throw new OAuthTokenException(
            $"Client credentials token '{cacheName}': the discovery document {document} names no absolute token_endpoint; set TokenEndpoint instead of Authority.",
            null,
            null,
            (HttpStatusCode)status,
            isTransient: false,
            retryAfter: null);
    }

    private async Task<(int Status, HttpResponseHeaders Headers, byte[] Body, string? MediaType)> SendAsync(
        string cacheName,
        ClientCredentialsOptions options,
        HttpRequestMessage request,
        string what,
        CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(options.HttpClientName);
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            var body = await ReadBodyAsync(response.Content, cancellationToken).ConfigureAwait(false);
            return ((int)response.StatusCode, response.Headers, body, response.Content.Headers.ContentType?.MediaType);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw NoAnswer($"did not answer in time (HttpClient.Timeout of client '{options.HttpClientName}').", ex);
        }
        catch (HttpRequestException ex)
        {
            throw NoAnswer("could not be reached: " + ex.Message, ex);
        }

        OAuthTokenException NoAnswer(string what2, Exception cause) => new(
            $"Client credentials token '{cacheName}': the {what} {request.RequestUri} {what2}",
            null,
            null,
            null,
            isTransient: true,
            retryAfter: null,
            cause);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is > MaxBodyBytes)
        {
            return [];
        }

#if NET
        using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
#else
        using var stream = await content.ReadAsStreamAsync().ConfigureAwait(false);
#endif
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
#if NET
        while ((read = await stream.ReadAsync(chunk.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
#else
        while ((read = await stream.ReadAsync(chunk, 0, chunk.Length, cancellationToken).ConfigureAwait(false)) > 0)
#endif
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return [];
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static JsonDocument? TryParseObject(byte[] body)
    {
        JsonDocument? document = null;
        try
        {
            document = body.Length > 0 ? JsonDocument.Parse(body) : null;
        }
        catch (JsonException)
        {
            // Not JSON at all: the caller reports the status and content type.
        }

        if (document is { RootElement.ValueKind: not JsonValueKind.Object })
        {
            document.Dispose();
            document = null;
        }

        return document;
    }

    private OAuthTokenException ErrorAnswer(string cacheName, Uri endpoint, int status, HttpResponseHeaders headers, JsonDocument? json, string? mediaType)
    {
        if (json is null)
        {
            return NotJson(cacheName, "token endpoint", endpoint, status, headers, mediaType);
        }

        using (json)
        {
            var root = json.RootElement;
            var error = root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
            var description = root.TryGetProperty("error_description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            var transient = error is "temporarily_unavailable" or "server_error" || IsTransientStatus(status);
            if (error is not null && PermanentErrors.Contains(error))
            {
                transient = false;
            }

            var text = new StringBuilder()
                .Append("Client credentials token '").Append(cacheName).Append("': the token endpoint ").Append(endpoint)
                .Append(" answered ").Append(status.ToString(CultureInfo.InvariantCulture));
            text.Append(error is null ? " without an error code" : " " + error);
            if (description is not null)
            {
                text.Append(" (").Append(description).Append(')');
            }

            text.Append(transient ? "; retried." : Hint(error));
            return new OAuthTokenException(text.ToString(), error, description, (HttpStatusCode)status, transient, RetryAfter(status, headers));
        }
    }

    private static string Hint(string? error) => error switch
    {
        "invalid_client" => "; check ClientId, ClientSecret (or the key) and ClientAuthentication.",
        "unauthorized_client" => "; the client may not use the client_credentials grant: check its registration at the issuer.",
        "invalid_scope" => "; check Scope.",
        "invalid_target" => "; check Resource.",
        "invalid_grant" or "unsupported_grant_type" => "; the issuer does not accept client_credentials for this client.",
        _ => "; not retried quickly (a configuration problem).",
    };

    private OAuthTokenException NotJson(string cacheName, string what, Uri uri, int status, HttpResponseHeaders headers, string? mediaType)
    {
        var transient = status is >= 200 and <= 299 || IsTransientStatus(status);
        return new OAuthTokenException(
            $"Client credentials token '{cacheName}': the {what} {uri} answered {status.ToString(CultureInfo.InvariantCulture)} with {(mediaType ?? "no content type")}, not a JSON object (a proxy or an error page?).",
            null,
            null,
            (HttpStatusCode)status,
            transient,
            RetryAfter(status, headers));
    }

    private static bool IsTransientStatus(int status) => status is >= 500 or 408 or 429;

    private TimeSpan? RetryAfter(int status, HttpResponseHeaders headers)
    {
        if (status is not (429 or 503) || headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        var delay = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - Time.GetUtcNow() : null);
        return delay is { } d && d > TimeSpan.Zero ? d : null;
    }

    private sealed class Discovered(Uri tokenEndpoint, string? issuer, DateTimeOffset readAt)
    {
        public Uri TokenEndpoint { get; } = tokenEndpoint;

        public string? Issuer { get; } = issuer;

        public DateTimeOffset ReadAt { get; } = readAt;
    }
}
