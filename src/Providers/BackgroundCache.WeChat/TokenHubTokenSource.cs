using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using BackgroundCache.Platform;
using BackgroundCache.WeChat.Internal;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat;

/// <summary>
/// Reads an access token from a central token hub (<c>GET /tokens/{name}</c> with an API key) instead of calling WeChat,
/// as WeChat recommends for business servers. When a token is rejected, it asks the hub to replace it
/// (<c>POST /tokens/{name}/invalidate</c>), so the hub refreshes once for every server.
/// </summary>
public sealed class TokenHubTokenSource : IRejectionAwareTokenSource
{
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly IOptionsMonitor<TokenHubOptions> _options;

    internal TokenHubTokenSource(string name, IHttpClientFactory httpClientFactory, IOptionsMonitor<TokenHubOptions> options)
    {
        Name = name;
        _httpClientFactory = httpClientFactory;
        _options = options;
    }

    /// <summary>Gets the name of the local token cache.</summary>
    public string Name { get; }

    /// <inheritdoc />
    public ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, string.Empty, null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<AccessToken> GetReplacementTokenAsync(AccessToken rejectedToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rejectedToken);
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["access_token"] = rejectedToken.Value }, WeChatJsonContext.Default.DictionaryStringString);
        return SendAsync(HttpMethod.Post, "/invalidate", body, cancellationToken);
    }

    private async ValueTask<AccessToken> SendAsync(HttpMethod method, string suffix, byte[]? body, CancellationToken cancellationToken)
    {
        var options = _options.Get(Name);
        var remoteName = options.TokenName ?? Name;
        var uri = new Uri(options.HubAddress!, $"tokens/{Uri.EscapeDataString(remoteName)}{suffix}");
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation(options.ApiKeyHeaderName, options.ApiKey);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        var client = _httpClientFactory.CreateClient(options.HttpClientName);
        (HttpStatusCode Status, string? MediaType, byte[] Body) answer;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            answer = await PlatformJson.ReadAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new TokenHubException($"Could not reach the token hub for '{remoteName}': {ex.Message}", ex.StatusCode, true, ex);
        }
        catch (InvalidDataException ex)
        {
            throw new TokenHubException($"The token hub answered '{remoteName}' with more than 64 KiB.", null, true, ex);
        }

        switch (answer.Status)
        {
            case HttpStatusCode.Unauthorized:
                throw new TokenHubException($"The token hub refused the API key for '{remoteName}': check TokenHubOptions.ApiKey.", answer.Status, false);
            case HttpStatusCode.Forbidden:
                throw new TokenHubException($"The token hub does not let this client read '{remoteName}': list the app in the client's TokenHub:Clients:{{id}}:Apps on the hub, or use that app's client key.", answer.Status, false);
            case HttpStatusCode.NotFound:
                throw new TokenHubException($"The token hub has no token named '{remoteName}': check TokenHubOptions.TokenName.", answer.Status, false);
            case < HttpStatusCode.OK or >= HttpStatusCode.MultipleChoices:
                throw new TokenHubException($"The token hub answered '{remoteName}' with HTTP {(int)answer.Status}.", answer.Status, true);
        }

        using var document = PlatformJson.TryParse(answer.Body)
            ?? throw new TokenHubException($"The token hub answered '{remoteName}' with {PlatformJson.DescribeBody(answer.MediaType, answer.Body)}, not JSON.", answer.Status, true);
        var root = document.RootElement;
        if (!root.TryGetProperty("access_token", out var token) || PlatformJson.TryGetString(token) is not { Length: > 0 } value
            || !root.TryGetProperty("expires_at", out var expires) || expires.ValueKind != JsonValueKind.String || !expires.TryGetDateTimeOffset(out var expiresAt))
        {
            throw new TokenHubException($"The token hub's answer for '{remoteName}' lacks access_token or expires_at.", answer.Status, true);
        }

        return new AccessToken(value, expiresAt);
    }
}
