using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// Starts the refresh timeline before the caches' first fetch (the caches start in <c>StartingAsync</c>; this service is
/// registered before them, so its <c>StartingAsync</c> runs first) and says, once, how each app is served.
/// </summary>
internal sealed class TokenHubService(
    RefreshTimeline timeline,
    TokenHubRegistry registry,
    IOptions<TokenHubServerOptions> options,
    IServiceProvider services,
    ILoggerFactory loggerFactory) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        timeline.Start();
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("BackgroundCache.TokenHub");
        var hub = options.Value;
        if (hub.Clients.Count == 1 && hub.Clients.TryGetValue(TokenHubServerOptions.DevelopmentClientId, out var dev)
            && dev.ApiKey == TokenHubServerOptions.DevelopmentApiKey)
        {
            Log.DevelopmentClient(logger);
        }

        if (registry.AppNames.Count == 0)
        {
            Log.NoApp(logger, TokenHubRegistry.NoAppMessage);
        }

        foreach (var app in registry.AppNames)
        {
            if (registry.EmulatorAddress(app) is { } emulator)
            {
                Log.EmulatedApp(logger, app, emulator);
            }
            else
            {
                var provider = registry.Provider(app);
                Log.RealApp(logger, app, provider.Identity(services, app), provider.Issuer, provider.Endpoint(services, app));
            }
        }

        if (registry.RedisCoordinated)
        {
            Log.RedisCoordinated(logger, hub.RedisKeyPrefix);
        }

        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
