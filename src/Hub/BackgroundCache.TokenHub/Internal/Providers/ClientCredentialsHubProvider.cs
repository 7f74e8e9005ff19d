using BackgroundCache.OAuth;
using BackgroundCache.TokenHub.Internal.Quota;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal.Providers;

/// <summary><c>Provider: ClientCredentials</c>: an OAuth 2.0 client credentials token (<see cref="ClientCredentialsOptions"/> keys).</summary>
internal sealed class ClientCredentialsHubProvider : HubProvider
{
    public override string Name => "ClientCredentials";

    public override string Issuer => "an OAuth 2.0 server";

    public override void Register(HubAppRegistration app)
    {
        var name = app.Name;
        app.Coordinate(app.Services.AddClientCredentialsToken(name, app.Section).WithHealthCheck($"token:{name}"));
        app.HealthCheck($"token:{name}");
    }

    /// <summary>An emulated OAuth server: <paramref name="baseAddress"/> is its token endpoint.</summary>
    public override void Emulate(IServiceCollection services, string app, Uri baseAddress, string secret) =>
        services.PostConfigure<ClientCredentialsOptions>(app, o =>
        {
            o.ClientSecret = secret;
            o.TokenEndpoint = baseAddress;
            o.Authority = null;
        });

    public override IEnumerable<string> Validate(IConfigurationSection section, string app, bool emulated, bool development)
    {
        var settings = section.Get<ClientCredentialsOptions>() ?? new ClientCredentialsOptions();
        if (string.IsNullOrWhiteSpace(settings.ClientId))
        {
            yield return $"TokenHub:Apps:{app}:ClientId is required (Provider ClientCredentials).";
        }

        if (!emulated && settings.TokenEndpoint is null && settings.Authority is null)
        {
            yield return $"TokenHub:Apps:{app}:TokenEndpoint (or :Authority, for OpenID Connect discovery) is required (Provider ClientCredentials).";
        }

        var keyed = settings.ClientAuthentication == ClientAuthenticationMethod.PrivateKeyJwt;
        if (!emulated && !keyed && string.IsNullOrEmpty(settings.ClientSecret))
        {
            yield return development
                ? $"TokenHub:Apps:{app}:ClientSecret is required (or serve the app from an emulator)."
                : $"TokenHub:Apps:{app}:ClientSecret is required outside Development (set it through an environment variable or a secret store).";
        }
    }

    public override IRefreshingCache<AccessToken> Token(IServiceProvider services, string app) =>
        services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(app);

    public override string Identity(IServiceProvider services, string app) => Options(services, app).ClientId;

    public override Uri? Endpoint(IServiceProvider services, string app) => Options(services, app) is var o ? o.TokenEndpoint ?? o.Authority : null;

    public override string HttpClientName(IServiceProvider services, string app) => Options(services, app).HttpClientName;

    private static ClientCredentialsOptions Options(IServiceProvider services, string app) =>
        services.GetRequiredService<IOptionsMonitor<ClientCredentialsOptions>>().Get(app);

    public override void UseHttpClient(IServiceCollection services, string app, string httpClientName) =>
        services.PostConfigure<ClientCredentialsOptions>(app, o => o.HttpClientName = httpClientName);

    /// <summary>OAuth servers document no common quota: token requests are counted per day, limited when configured.</summary>
    public override IReadOnlyList<QuotaWindow> DefaultQuotas(IConfigurationSection section) => [CountedDay];

    /// <summary>A token request is a POST (OpenID Connect discovery is a GET).</summary>
    public override ValueTask<QuotaCalls> ClassifyAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(request.Method == HttpMethod.Post ? QuotaCalls.Token : QuotaCalls.None);
}
