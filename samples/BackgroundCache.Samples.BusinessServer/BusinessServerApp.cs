using BackgroundCache.WeChat;

namespace BackgroundCache.Samples.BusinessServer;

/// <summary>
/// Builds the business server. Tests call <see cref="Build"/> with their own settings.
/// </summary>
public static class BusinessServerApp
{
    public const string WeChatClient = "wechat";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        var config = builder.Configuration;
        var tokenName = config["TokenHub:TokenName"] ?? "demo";

        // The token comes from the hub (GET /tokens/{name}); a token WeChat rejects is reported to the hub.
        builder.Services.AddTokenHubAccessToken(tokenName, o =>
        {
            o.HubAddress = new Uri(config["TokenHub:Address"] ?? "http://127.0.0.1:5080/");
            o.ApiKey = config["TokenHub:ApiKey"] ?? string.Empty;
        }).WithHealthCheck();

        // Every request to WeChat gets ?access_token=…; a 40001/42001 answer invalidates the token and retries once.
        builder.Services.AddHttpClient(WeChatClient, c => c.BaseAddress = new Uri(config["WeChat:BaseAddress"] ?? WeChatOptions.DefaultBaseAddress.ToString()))
            .AddWeChatAccessTokenHandler(tokenName);

        var app = builder.Build();
        app.MapGet("/wechat/api-domain-ip", async (IHttpClientFactory clients, CancellationToken ct) =>
        {
            var body = await clients.CreateClient(WeChatClient).GetStringAsync(new Uri("cgi-bin/get_api_domain_ip", UriKind.Relative), ct);
            return Results.Content(body, "application/json");
        });
        app.MapHealthChecks("/health");
        return app;
    }
}
