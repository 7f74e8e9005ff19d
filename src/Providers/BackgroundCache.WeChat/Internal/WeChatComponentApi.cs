using System.Net.Http.Headers;
using System.Text.Json;
using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// The Open Platform's <c>cgi-bin/component/…</c> calls of one platform: JSON POSTs, errcode mapped to
/// <see cref="WeChatApiException"/>; a component token WeChat rejects is invalidated (one refresh for every caller).
/// </summary>
internal sealed class WeChatComponentApi(string name, IServiceProvider services)
{
    private readonly IHttpClientFactory _httpClientFactory = services.GetRequiredService<IHttpClientFactory>();
    private readonly IOptionsMonitor<WeChatOpenPlatformOptions> _options = services.GetRequiredService<IOptionsMonitor<WeChatOpenPlatformOptions>>();
    private int _loggedErrorCode;

    public string Name { get; } = name;

    public TimeProvider Time { get; } = services.GetRequiredService<TimeProvider>();

    public ILogger Logger { get; } = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat.OpenPlatform");

    public WeChatOpenPlatformOptions Options => _options.Get(Name);

    public IRefreshingCache<AccessToken> ComponentToken => services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);

    public IRefreshingCacheSet<string, AccessToken> Authorizers => services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(Name);

    /// <summary>Removes an authorizer's token and, when registered, its JS-SDK ticket; true when the token set held it.</summary>
    public async Task<bool> RemoveAuthorizerKeysAsync(string authorizerAppId, CancellationToken cancellationToken)
    {
        await RemoveAuthorizerTicketAsync(authorizerAppId, cancellationToken).ConfigureAwait(false);
        return await Authorizers.RemoveAsync(authorizerAppId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes an authorizer's JS-SDK ticket, when the platform registered them.</summary>
    public async Task RemoveAuthorizerTicketAsync(string authorizerAppId, CancellationToken cancellationToken)
    {
        if (services.GetKeyedService<IRefreshingCacheSet<string, WeChatJsApiTicket>>(Name) is { } tickets)
        {
            await tickets.RemoveAsync(authorizerAppId, cancellationToken).ConfigureAwait(false);
        }
    }

    public IPushedTicketStore Tickets => services.GetRequiredService<IPushedTicketStore>();

    public IRefreshSecretStore Secrets => services.GetRequiredService<IRefreshSecretStore>();

    public string TicketKey => WeChatOpenPlatformState.TicketKey(Options.ComponentAppId);

    public string AuthorizersScope => WeChatOpenPlatformState.AuthorizersScope(Options.ComponentAppId);

    /// <summary>Fails at start when the application registered its own <see cref="IWeChatOpenPlatformStore"/>, which would not be used.</summary>
    public void CheckStoreRegistration()
    {
        if (services.GetService<IWeChatOpenPlatformStore>() is { } store && store is not WeChatOpenPlatformStoreView)
        {
            throw new InvalidOperationException(
                $"WeChat Open Platform '{Name}': {store.GetType().Name} is registered as IWeChatOpenPlatformStore, which the platforms no longer write to. Register it as BackgroundCache.Stores.IPushedTicketStore and IRefreshSecretStore instead (docs/wechat-open-platform.md, \"The store\").");
        }
    }

    /// <summary>Calls a component API that needs no component token; returns its JSON answer (errcode 0).</summary>
    public async Task<JsonDocument> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> body, CancellationToken cancellationToken)
    {
        var options = Options;
        using var request = CreateRequest(new Uri(options.BaseAddress, path), body);
        var document = await WeChatJson.SendAsync(_httpClientFactory.CreateClient(options.HttpClientName), request, options.ComponentAppId, cancellationToken).ConfigureAwait(false);
        var (code, message) = WeChatJson.GetError(document.RootElement, options.ComponentAppSecret);
        if (code != 0)
        {
            document.Dispose();
            throw Error(options, code, message);
        }

        Volatile.Write(ref _loggedErrorCode, 0);
        return document;
    }

    /// <summary>Calls a component API with the current component token; a rejected token is invalidated and the call fails transiently.</summary>
    public async Task<JsonDocument> PostWithComponentTokenAsync(string path, IEnumerable<KeyValuePair<string, string>> body, Func<int, string, Exception?>? onError, CancellationToken cancellationToken)
    {
        var options = Options;
        var tokens = ComponentToken;
        var token = await tokens.GetAsync(cancellationToken).ConfigureAwait(false);
        // WeChat's current pages name the component token access_token (the older ones component_access_token; both work).
        var uri = new Uri(options.BaseAddress, $"{path}?access_token={Uri.EscapeDataString(token.Value)}");
        using var request = CreateRequest(uri, body);
        var document = await WeChatJson.SendAsync(_httpClientFactory.CreateClient(options.HttpClientName), request, options.ComponentAppId, cancellationToken).ConfigureAwait(false);
        var (code, message) = WeChatJson.GetError(document.RootElement, options.ComponentAppSecret);
        if (code == 0)
        {
            Volatile.Write(ref _loggedErrorCode, 0);
            return document;
        }

        document.Dispose();
        if (WeChatErrors.IsTokenRejection(code))
        {
            tokens.Invalidate(token);
            Log.ComponentTokenRejected(Logger, Name, token.Fingerprint, code);
        }

        throw onError?.Invoke(code, message) ?? Error(options, code, message);
    }

    public WeChatApiException Error(WeChatOpenPlatformOptions options, int code, string message)
    {
        if (options.ComponentAppSecret.Length > 0)
        {
            message = message.Replace(options.ComponentAppSecret, "***", StringComparison.Ordinal);
        }

        var error = WeChatErrors.FromErrorCode(code, message, options.ComponentAppId, Time);
        if (error.Kind == WeChatErrorKind.Configuration && Interlocked.Exchange(ref _loggedErrorCode, code) != code)
        {
            // Once per errcode until a call succeeds: 1,000 authorizers failing on one whitelist problem log it once.
            Log.ConfigurationError(Logger, Name, code, WeChatErrors.Hint(code, message, options.ComponentAppId));
        }

        return error;
    }

    public static string? GetString(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static HttpRequestMessage CreateRequest(Uri uri, IEnumerable<KeyValuePair<string, string>> body)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in body)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
    }
}
