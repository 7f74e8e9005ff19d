using BackgroundCache.WeChat;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>Starts the refresh timeline before the caches' first fetch and says, once, how each app is served.</summary>
internal sealed class TokenHubService(
    RefreshTimeline timeline,
    TokenHubRegistry registry,
    IOptions<TokenHubServerOptions> options,
    IOptionsMonitor<WeChatOptions> wechat,
    ILoggerFactory loggerFactory) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        timeline.Start();
        var logger = loggerFactory.CreateLogger("BackgroundCache.TokenHub");
        var hub = options.Value;
        if (hub.Clients.Count == 1 && hub.Clients.TryGetValue(TokenHubServerOptions.DevelopmentClientId, out var dev)
            && dev.ApiKey == TokenHubServerOptions.DevelopmentApiKey)
        {
            Log.DevelopmentClient(logger);
        }

        foreach (var app in registry.AppNames)
        {
            if (registry.EmulatorAddress(app) is { } emulator)
            {
                Log.EmulatedApp(logger, app, emulator);
            }
            else
            {
                var settings = wechat.Get(app);
                Log.RealApp(logger, app, settings.AppId, settings.BaseAddress, settings.Mode);
            }
        }

        if (registry.RedisCoordinated)
        {
            Log.RedisCoordinated(logger, hub.RedisKeyPrefix);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
