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

    public override IRefreshingCache<AccessToken> Token(IServiceProvider services, string app) =>
        services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(app);

    public override string Identity(IServiceProvider services, string app) => Options(services, app).AppId;

    public override Uri? Endpoint(IServiceProvider services, string app) => Options(services, app).BaseAddress;

    public override string HttpClientName(IServiceProvider services, string app) => Options(services, app).HttpClientName;

    private static WeChatOptions Options(IServiceProvider services, string app) =>
        services.GetRequiredService<IOptionsMonitor<WeChatOptions>>().Get(app);
}
