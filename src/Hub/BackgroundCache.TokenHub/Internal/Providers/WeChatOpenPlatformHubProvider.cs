using BackgroundCache.TokenHub.Internal.Quota;
using BackgroundCache.WeChat;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal.Providers;

/// <summary>
/// <c>Provider: WeChatOpenPlatform</c>: a third-party platform (<see cref="WeChatOpenPlatformOptions"/> keys). The component
/// token is served at <c>GET /tokens/{name}</c>, each authorizer's at <c>GET /tokens/{name}/authorizers/{appid}</c>; WeChat
/// pushes the component_verify_ticket and authorizations to <c>POST /events/{name}</c>.
/// </summary>
internal sealed class WeChatOpenPlatformHubProvider : HubProvider
{
    public override string Name => "WeChatOpenPlatform";

    public override string Issuer => "WeChat Open Platform";

    public override bool HasAuthorizers => true;

    public override void Register(HubAppRegistration app)
    {
        var name = app.Name;
        var platform = app.Services.AddWeChatOpenPlatform(name, app.Section);
        platform.ComponentToken.WithHealthCheck($"token:{name}");
        platform.Authorizers.WithHealthCheck($"authorizers:{name}");
        app.HealthCheck($"token:{name}");
        app.HealthCheck($"authorizers:{name}");
        app.CoordinateGroup(platform);
    }

    public override void Emulate(IServiceCollection services, string app, Uri baseAddress, string secret) =>
        services.PostConfigure<WeChatOpenPlatformOptions>(app, o =>
        {
            o.ComponentAppSecret = secret;
            o.BaseAddress = baseAddress;
        });

    public override IEnumerable<string> Validate(IConfigurationSection section, string app, bool emulated, bool development)
    {
        var settings = section.Get<WeChatOpenPlatformOptions>() ?? new WeChatOpenPlatformOptions();
        if (string.IsNullOrWhiteSpace(settings.ComponentAppId))
        {
            yield return $"TokenHub:Apps:{app}:ComponentAppId is required (Provider WeChatOpenPlatform).";
        }

        if (!emulated && string.IsNullOrEmpty(settings.ComponentAppSecret))
        {
            yield return development
                ? $"TokenHub:Apps:{app}:ComponentAppSecret is required (or serve the platform from an emulator)."
                : $"TokenHub:Apps:{app}:ComponentAppSecret is required outside Development (set it through an environment variable or a secret store).";
        }

        if (!emulated && (string.IsNullOrEmpty(settings.Token) || string.IsNullOrEmpty(settings.EncodingAESKey)))
        {
            yield return $"TokenHub:Apps:{app}:Token and :EncodingAESKey are required (the message check settings of the platform's console).";
        }
    }

    public override IRefreshingCache<AccessToken> Token(IServiceProvider services, string app) =>
        services.GetRequiredKeyedService<WeChatOpenPlatform>(app).ComponentToken;

    public override IRefreshingCacheSet<string, AccessToken> Authorizers(IServiceProvider services, string app) =>
        services.GetRequiredKeyedService<WeChatOpenPlatform>(app).Authorizers;

    public override string Identity(IServiceProvider services, string app) => Options(services, app).ComponentAppId;

    public override Uri? Endpoint(IServiceProvider services, string app) => Options(services, app).BaseAddress;

    public override string HttpClientName(IServiceProvider services, string app) => Options(services, app).HttpClientName;

    private static WeChatOpenPlatformOptions Options(IServiceProvider services, string app) =>
        services.GetRequiredService<IOptionsMonitor<WeChatOpenPlatformOptions>>().Get(app);

    public override void UseHttpClient(IServiceCollection services, string app, string httpClientName) =>
        services.PostConfigure<WeChatOpenPlatformOptions>(app, o => o.HttpClientName = httpClientName);

    /// <summary>WeChat documents a daily quota of <c>api_component_token</c> without a number: counted, limited when configured.</summary>
    public override IReadOnlyList<QuotaWindow> DefaultQuotas(IConfigurationSection section) => [CountedDay];

    public override ValueTask<QuotaCalls> ClassifyAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(PathEndsWith(request, "/cgi-bin/component/api_component_token") ? QuotaCalls.Token : QuotaCalls.None);
}
