using BackgroundCache.WeCom.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeCom;

/// <summary>
/// Fetches the access token of one WeCom app with <c>GET /cgi-bin/gettoken?corpid=…&amp;corpsecret=…</c> and maps every
/// error to a <see cref="WeComApiException"/>. A token belongs to the pair (CorpId, app secret): two apps of one corp are
/// two caches with two tokens.
/// </summary>
/// <remarks>
/// Registered per app by <c>AddWeComAccessToken(name, …)</c>. Readers use the keyed <see cref="IRefreshingCache{T}"/> of
/// <see cref="AccessToken"/>. Renewal rule: WeCom's current documentation promises no reuse within the validity and warns
/// that it may invalidate a token early, so the cache refreshes ahead of <c>expires_in</c> like a token that is replaced
/// on each fetch (<see cref="TokenRenewal.ReplacesOnFetch"/>) and relies on invalidation reports (the handler's retry) for
/// early invalidation.
/// </remarks>
public sealed class WeComAccessTokenSource : IRejectionAwareTokenSource, ITokenRenewalRule
{
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly IOptionsMonitor<WeComOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IServiceProvider _services;

    internal WeComAccessTokenSource(string name, IServiceProvider services)
    {
        Name = name;
        _services = services;
        _httpClientFactory = services.GetRequiredService<IHttpClientFactory>();
        _options = services.GetRequiredService<IOptionsMonitor<WeComOptions>>();
        _time = services.GetRequiredService<TimeProvider>();
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeCom");
    }

    /// <summary>Gets the name of the app's token cache.</summary>
    public string Name { get; }

    /// <summary>
    /// Gets the identity of the token this source fetches: the CorpId and a fingerprint of the app secret
    /// (<c>wwcorp/1a2b3c4d</c>), never the secret. Two registrations with the same identity share one token at WeCom.
    /// </summary>
    public string AppIdentity => Identity(_options.Get(Name));

    /// <inheritdoc />
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    /// <inheritdoc />
    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var options = _options.Get(Name);
        var subject = Subject(Name, options);
        var started = _time.GetUtcNow();
        var uri = new Uri(options.BaseAddress, $"cgi-bin/gettoken?corpid={Uri.EscapeDataString(options.CorpId)}&corpsecret={Uri.EscapeDataString(options.CorpSecret)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        var client = _httpClientFactory.CreateClient(options.HttpClientName);
        using var document = await WeComApi.CallAsync(client, request, subject, [options.CorpSecret], cancellationToken).ConfigureAwait(false);
        var (value, expiresIn) = WeComApi.ReadExpiring(document.RootElement, "access_token", subject);
        var token = new AccessToken(value, started.AddSeconds(expiresIn));
        Log.TokenFetched(_logger, Name, token.Fingerprint, expiresIn);
        return token;
    }

    /// <inheritdoc />
    public async ValueTask<AccessToken> GetReplacementTokenAsync(AccessToken rejectedToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rejectedToken);
        var token = await GetTokenAsync(cancellationToken).ConfigureAwait(false);

        // The JS-SDK tickets were fetched with the rejected token: fetch them again with the new one.
        if (_services.GetKeyedService<IRefreshingCache<WeComJsApiTicket>>(Name) is { } corp && corp.TryGetValue(out var corpTicket))
        {
            corp.Invalidate(corpTicket);
        }

        if (_services.GetKeyedService<IRefreshingCache<WeComAgentConfigTicket>>(Name) is { } agent && agent.TryGetValue(out var agentTicket))
        {
            agent.Invalidate(agentTicket);
        }

        return token;
    }

    internal static string Identity(WeComOptions options) => $"{options.CorpId}/{AccessToken.ComputeFingerprint(options.CorpSecret)}";

    internal static string Subject(string name, WeComOptions options) => $"WeCom app '{name}' (CorpId '{options.CorpId}')";
}
