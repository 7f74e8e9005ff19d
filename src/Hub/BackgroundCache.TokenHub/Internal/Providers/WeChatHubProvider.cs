using System.Text.Json;
using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeChat;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal.Providers;

/// <summary><c>Provider: WeChat</c> (the default): an Official Account or Mini Program token (<see cref="WeChatOptions"/> keys), and its JS-SDK ticket.</summary>
internal sealed class WeChatHubProvider : HubProvider
{
    public override string Name => "WeChat";

    public override string Issuer => "WeChat";

    public override bool HasTickets => true;

    public override void Register(HubAppRegistration app)
    {
        var name = app.Name;
        app.Coordinate(app.Services.AddWeChatAccessToken(name, app.Section).WithHealthCheck($"token:{name}"));
        app.HealthCheck($"token:{name}");
        if (app.Ticket)
        {
            app.Coordinate(app.Services.AddWeChatJsApiTicket(name).WithHealthCheck($"jsapi_ticket:{name}"));
            app.HealthCheck($"jsapi_ticket:{name}");
        }
    }

    public override void Emulate(IServiceCollection services, string app, Uri baseAddress, string secret) =>
        services.PostConfigure<WeChatOptions>(app, o =>
        {
            o.AppSecret = secret;
            o.BaseAddress = baseAddress;
        });

    public override IEnumerable<string> Validate(IConfigurationSection section, string app, bool emulated, bool development)
    {
        var settings = section.Get<WeChatOptions>() ?? new WeChatOptions();
        if (string.IsNullOrWhiteSpace(settings.AppId))
        {
            yield return $"TokenHub:Apps:{app}:AppId is required.";
        }

        if (!emulated && string.IsNullOrEmpty(settings.AppSecret))
        {
            yield return development
                ? $"TokenHub:Apps:{app}:AppSecret is required (or serve the app from an emulator)."
                : $"TokenHub:Apps:{app}:AppSecret is required outside Development (set it through an environment variable or a secret store; for a demo on the WeChat emulator set TokenHub:UseEmulator=true).";
        }
    }

    public override Task<AccessToken>? ForceRefreshAsync(IServiceProvider services, string app, CancellationToken cancellationToken) =>
        Options(services, app).Mode == WeChatTokenMode.StableToken
            ? services.GetRequiredKeyedService<WeChatAccessTokenSource>(app).ForceRefreshAsync(cancellationToken)
            : null;

    public override HubTicket Ticket(IServiceProvider services, string app) => HubTicket.Of(
        services.GetRequiredKeyedService<IRefreshingCache<WeChatJsApiTicket>>(app),
        t => t.Value,
        t => t.ExpiresAt,
        (t, nonce, timestamp, url) => t.CreateSignature(nonce, timestamp, url));

    public override bool ReadsIssuerQuota(IConfigurationSection section) => section.GetValue<bool>("ReadIssuerQuota");

    /// <summary><c>POST /cgi-bin/openapi/quota/get</c> for the endpoint of the app's mode, with its current token.</summary>
    public override async Task<IssuerCount?> ReadIssuerQuotaAsync(IServiceProvider services, string app, CancellationToken cancellationToken)
    {
        var options = Options(services, app);
        var token = await Token(services, app).GetAsync(cancellationToken).ConfigureAwait(false);
        var path = options.Mode == WeChatTokenMode.Token ? "/cgi-bin/token" : "/cgi-bin/stable_token";
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient(options.HttpClientName);
        using var body = new StringContent(JsonSerializer.Serialize(new Dictionary<string, string> { ["cgi_path"] = path }), System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri(options.BaseAddress, "cgi-bin/openapi/quota/get?access_token=" + Uri.EscapeDataString(token.Value)), body, cancellationToken).ConfigureAwait(false);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        return json.RootElement.TryGetProperty("quota", out var quota)
            && quota.TryGetProperty("used", out var used) && quota.TryGetProperty("daily_limit", out var limit)
            ? new IssuerCount(used.GetInt64(), limit.GetInt64())
            : null;
    }

    public override IRefreshingCache<AccessToken> Token(IServiceProvider services, string app) =>
        services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(app);

    public override string Identity(IServiceProvider services, string app) => Options(services, app).AppId;

    public override Uri? Endpoint(IServiceProvider services, string app) => Options(services, app).BaseAddress;

    public override string HttpClientName(IServiceProvider services, string app) => Options(services, app).HttpClientName;

    private static WeChatOptions Options(IServiceProvider services, string app) =>
        services.GetRequiredService<IOptionsMonitor<WeChatOptions>>().Get(app);

    public override void UseHttpClient(IServiceCollection services, string app, string httpClientName) =>
        services.PostConfigure<WeChatOptions>(app, o => o.HttpClientName = httpClientName);

    /// <summary>Classic <c>cgi-bin/token</c>: 2,000 a day; <c>stable_token</c>: 10,000 a minute, 500,000 a day, 20 forced a day.</summary>
    public override IReadOnlyList<QuotaWindow> DefaultQuotas(IConfigurationSection section) =>
        section.GetValue(nameof(WeChatOptions.Mode), WeChatTokenMode.StableToken) == WeChatTokenMode.Token
            ? [new("day", TimeSpan.FromDays(1), QuotaCalls.Token, 2_000)]
            :
            [
                new("minute", TimeSpan.FromMinutes(1), QuotaCalls.Token, 10_000),
                new("day", TimeSpan.FromDays(1), QuotaCalls.Token, 500_000),
                new("force_refresh_day", TimeSpan.FromDays(1), QuotaCalls.ForcedRefresh, 20),
            ];

    public override async ValueTask<QuotaCalls> ClassifyAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (PathEndsWith(request, "/cgi-bin/token"))
        {
            return QuotaCalls.Token;
        }

        if (!PathEndsWith(request, "/cgi-bin/stable_token"))
        {
            return QuotaCalls.None;
        }

        return request.Content is { } content && await IsForcedAsync(content, cancellationToken).ConfigureAwait(false)
            ? QuotaCalls.Token | QuotaCalls.ForcedRefresh
            : QuotaCalls.Token;
    }

    private static async Task<bool> IsForcedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        // The body is a small JSON object held in memory (the request is sent from a buffer, so reading it here is harmless).
        var body = await content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("force_refresh", out var force) && force.ValueKind == JsonValueKind.True;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
