using System.Collections.Concurrent;
using System.Text.Json;
using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeCom.Internal;

/// <summary>What the suite's token sources and its event handling share: settings, stores, caches, and the calls.</summary>
internal sealed class WeComSuiteApi(string name, IServiceProvider services)
{
    private readonly IHttpClientFactory _httpClientFactory = services.GetRequiredService<IHttpClientFactory>();
    private readonly IOptionsMonitor<WeComSuiteOptions> _options = services.GetRequiredService<IOptionsMonitor<WeComSuiteOptions>>();

    public string Name { get; } = name;

    public TimeProvider Time { get; } = services.GetRequiredService<TimeProvider>();

    public ILogger Logger { get; } = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeCom.Suite");

    public WeComSuiteOptions Options => _options.Get(Name);

    public string Subject => $"WeCom suite '{Name}' (SuiteId '{Options.SuiteId}')";

    public IPushedTicketStore Tickets => services.GetRequiredService<IPushedTicketStore>();

    public IRefreshSecretStore Secrets => services.GetRequiredService<IRefreshSecretStore>();

    public string TicketKey => $"wecom:suite:{Options.SuiteId}:ticket";

    public string PermanentCodesScope => $"wecom:suite:{Options.SuiteId}:permanent_codes";

    public IRefreshingCache<AccessToken> SuiteToken => services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);

    public IRefreshingCacheSet<string, AccessToken> Corps => services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(Name);

    /// <summary>Corp tokens that <c>get_permanent_code</c> returned, used for the corp's first load instead of a call.</summary>
    public ConcurrentDictionary<string, AccessToken> Seeds { get; } = new(StringComparer.Ordinal);

    /// <summary>POSTs JSON to a suite API without a token (<c>get_suite_token</c>).</summary>
    public async Task<JsonDocument> PostAsync(string path, (string Name, string Value)[] body, CancellationToken cancellationToken)
    {
        var options = Options;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.BaseAddress, path)) { Content = WeComApi.Json(body) };
        return await WeComApi.CallAsync(_httpClientFactory.CreateClient(options.HttpClientName), request, Subject, [options.SuiteSecret], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// POSTs JSON to a suite API with the current <c>suite_access_token</c>; a refused suite token (40082, 42009) is
    /// invalidated, and the call fails transiently so that the retry uses the new one.
    /// </summary>
    public async Task<JsonDocument> PostWithSuiteTokenAsync(string path, (string Name, string Value)[] body, CancellationToken cancellationToken)
    {
        var options = Options;
        var tokens = SuiteToken;
        if (!tokens.TryGetValue(out var token))
        {
            // Without a suite_ticket there will be no suite token until WeCom pushes one: fail at once (transient) rather
            // than hold a corp's fetch slot waiting for it.
            token = await Tickets.GetTicketAsync(TicketKey, cancellationToken).ConfigureAwait(false) is null
                ? throw new PushedTicketMissingException($"{Subject} has no suite_access_token yet: it waits for the first suite_ticket push.")
                : await tokens.GetAsync(cancellationToken).ConfigureAwait(false);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(options.BaseAddress, $"{path}?suite_access_token={Uri.EscapeDataString(token.Value)}"))
        {
            Content = WeComApi.Json(body),
        };
        try
        {
            return await WeComApi.CallAsync(_httpClientFactory.CreateClient(options.HttpClientName), request, Subject, [options.SuiteSecret, token.Value], cancellationToken).ConfigureAwait(false);
        }
        catch (WeComApiException ex) when (WeComErrors.IsTokenRejection(ex.ErrorCode))
        {
            tokens.Invalidate(token);
            throw;
        }
    }
}
