using BackgroundCache.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Feishu.Internal;

/// <summary>
/// What the store app's parts share: options, the ticket store, the clock, and the <c>auth/v3</c> calls, including
/// <c>app_ticket/resend</c> (at most once per <see cref="ResendInterval"/>).
/// </summary>
internal sealed class FeishuStoreAppApi
{
    /// <summary>How often a missing or refused ticket may ask Feishu to push one again.</summary>
    internal static readonly TimeSpan ResendInterval = TimeSpan.FromMinutes(1);

    private readonly IServiceProvider _services;
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly IOptionsMonitor<FeishuStoreAppOptions> _options;
    private readonly object _gate = new();
    private DateTimeOffset? _nextResendAt;

    public FeishuStoreAppApi(string name, IServiceProvider services)
    {
        Name = name;
        _services = services;
        _httpClientFactory = services.GetRequiredService<IHttpClientFactory>();
        _options = services.GetRequiredService<IOptionsMonitor<FeishuStoreAppOptions>>();
        Tickets = services.GetRequiredService<IPushedTicketStore>();
        Time = services.GetRequiredService<TimeProvider>();
        Logger = services.CreateFeishuLogger();
    }

    public string Name { get; }

    public FeishuStoreAppOptions Options => _options.Get(Name);

    public IPushedTicketStore Tickets { get; }

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    public string TicketKey => $"feishu:store:{Options.AppId}:app_ticket";

    public IRefreshingCache<AccessToken> AppToken => _services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);

    public async Task<AccessToken> PostForTokenAsync(string path, string field, IReadOnlyList<KeyValuePair<string, string>> fields, CancellationToken cancellationToken)
    {
        var o = Options;
        var started = Time.GetUtcNow();
        using var document = await FeishuHttp.PostAsync(
            _httpClientFactory.CreateClient(o.HttpClientName),
            o.BaseAddress,
            path,
            fields,
            o.AppId,
            fields.Select(f => (string?)f.Value).Where(v => v != o.AppId).ToArray(),
            cancellationToken).ConfigureAwait(false);
        var (value, expire) = FeishuHttp.ReadToken(document.RootElement, field, o.AppId, path);
        var token = new AccessToken(value, started.AddSeconds(expire));
        Log.TokenFetched(Logger, Name, field, token.Fingerprint, expire);
        return token;
    }

    /// <summary>Asks Feishu to push the <c>app_ticket</c> now, unless asked within <see cref="ResendInterval"/>; a failure only logs.</summary>
    public async Task<bool> ResendTicketAsync(bool force, CancellationToken cancellationToken)
    {
        var now = Time.GetUtcNow();
        lock (_gate)
        {
            if (!force && _nextResendAt is { } next && now < next)
            {
                return false;
            }

            _nextResendAt = now + ResendInterval;
        }

        var o = Options;
        try
        {
            using var answer = await FeishuHttp.PostAsync(
                _httpClientFactory.CreateClient(o.HttpClientName),
                o.BaseAddress,
                "open-apis/auth/v3/app_ticket/resend",
                [new("app_id", o.AppId), new("app_secret", o.AppSecret)],
                o.AppId,
                [o.AppSecret],
                cancellationToken).ConfigureAwait(false);
            Log.ResendRequested(Logger, Name);
            return true;
        }
        catch (FeishuApiException ex)
        {
            Log.ResendFailed(Logger, Name, ex.Message);
            return false;
        }
    }
}
