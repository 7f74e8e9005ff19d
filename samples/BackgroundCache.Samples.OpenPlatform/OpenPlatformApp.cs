using System.Security.Cryptography;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace BackgroundCache.Samples.OpenPlatform;

/// <summary>
/// Builds the platform app. Tests call <see cref="BuildAsync"/> with their own clock and settings.
/// </summary>
public static partial class OpenPlatformApp
{
    public const string PlatformName = "platform";

    public static async Task<WebApplication> BuildAsync(string[] args, TimeProvider? timeProvider = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        var time = timeProvider ?? TimeProvider.System;
        builder.Services.AddSingleton(time);

        var section = builder.Configuration.GetSection("WeChat:Open");
        var sample = builder.Configuration.GetSection("OpenPlatformSample");
        var eventPath = sample["EventPath"] ?? "/wechat/open/events";
        var platform = builder.Services.AddWeChatOpenPlatform(PlatformName, section).WithHealthCheck();

        // No secret configured: run against an in-process emulator (offline demo), which seals its pushes with its own
        // crypto settings, generated here.
        WeChatEmulator? emulator = null;
        if (string.IsNullOrEmpty(section["ComponentAppSecret"]))
        {
            var componentAppId = section["ComponentAppId"] ?? "wx0000000platform01";
            var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
            var encodingAesKey = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 43);
            emulator = await WeChatEmulator.StartAsync(new WeChatEmulatorOptions { TimeProvider = time });
            emulator.AddComponent(componentAppId, secret, token, encodingAesKey);
            builder.Services.AddSingleton(emulator);
            builder.Services.PostConfigure<WeChatOpenPlatformOptions>(PlatformName, o =>
            {
                o.ComponentAppId = componentAppId;
                o.ComponentAppSecret = secret;
                o.Token = token;
                o.EncodingAESKey = encodingAesKey;
                o.BaseAddress = emulator.BaseAddress;
            });
            var demoAuthorizers = sample.GetSection("DemoAuthorizers").Get<string[]>() ?? [];
            builder.Services.AddHostedService(sp => new EmulatorDriver(sp, emulator, componentAppId, eventPath, demoAuthorizers));
        }

        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.Samples.OpenPlatform");
        if (emulator is not null)
        {
            SampleLog.EmulatorMode(logger, emulator.BaseAddress);
        }

        app.MapWeChatOpenPlatformEvents(eventPath, PlatformName);
        MapPages(app);
        app.MapHealthChecks("/health");
        return app;
    }

    private static void MapPages(WebApplication app)
    {
        // Status: the component token and every authorizer, by fingerprint (never a token).
        app.MapGet("/", ([FromKeyedServices(PlatformName)] WeChatOpenPlatform platform, TimeProvider time) =>
        {
            var now = time.GetUtcNow();
            var component = platform.ComponentToken;
            return Results.Json(new
            {
                platform = platform.ComponentAppId,
                componentToken = Describe(component, now),
                authorizerCount = platform.Authorizers.Count,
                authorizers = platform.Authorizers.Keys.Order(StringComparer.Ordinal)
                    .Select(appId => new { appId, token = Describe(platform.Authorizers.GetOrAdd(appId), now) }),
            });
        });

        // One account's token, as a business endpoint would use it (here only its fingerprint is shown). An AppId that has
        // not authorized the platform is a 404 that says so, not a 500.
        app.MapGet("/menu/{appId}", async (string appId, [FromKeyedServices(PlatformName)] IRefreshingCacheSet<string, AccessToken> tokens, CancellationToken ct) =>
        {
            try
            {
                var token = await tokens.GetAsync(appId, ct);
                return Results.Json(new { appId, fingerprint = token.Fingerprint });
            }
            catch (CacheValueUnavailableException ex) when (ex.InnerException is CacheKeyNotFoundException)
            {
                return Results.NotFound(new { appId, error = ex.Message });
            }
        });

        // The owner's way in: WeChat's authorization page, then back here with auth_code.
        app.MapGet("/authorize", async (HttpContext context, [FromKeyedServices(PlatformName)] WeChatOpenPlatform platform, CancellationToken ct) =>
        {
            var back = new Uri($"{context.Request.Scheme}://{context.Request.Host}/authorized");
            return Results.Redirect((await platform.CreateAuthorizationUrlAsync(back, cancellationToken: ct)).AbsoluteUri);
        });
        app.MapGet("/authorized", async (string auth_code, [FromKeyedServices(PlatformName)] WeChatOpenPlatform platform, CancellationToken ct) =>
        {
            try
            {
                return Results.Json(new { authorized = await platform.AuthorizeAsync(auth_code, ct) });
            }
            catch (WeChatApiException ex)
            {
                return Results.BadRequest(new { error = ex.ErrorCode, detail = ex.Message });
            }
        });
    }

    private static object Describe(IRefreshingCache<AccessToken> cache, DateTimeOffset now)
    {
        var status = cache.Status;
        return cache.TryGetValue(out var token)
            ? new { state = status.State.ToString(), fingerprint = (string?)token.Fingerprint, expiresInSeconds = (long?)(token.ExpiresAt - now).TotalSeconds, lastError = status.LastError?.Message }
            : new { state = status.State.ToString(), fingerprint = (string?)null, expiresInSeconds = (long?)null, lastError = status.LastError?.Message };
    }

    /// <summary>Plays WeChat in the offline demo: pushes a ticket now and every 10 minutes, then authorizes the demo accounts.</summary>
    private sealed class EmulatorDriver(IServiceProvider services, WeChatEmulator emulator, string componentAppId, string eventPath, string[] authorizers) : BackgroundService
    {
        private IAsyncDisposable? _pushes;

        public override async Task StopAsync(CancellationToken cancellationToken)
        {
            await base.StopAsync(cancellationToken);
            if (_pushes is not null)
            {
                await _pushes.DisposeAsync();
            }

            await emulator.DisposeAsync();
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken);
            }

            var address = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var eventUrl = new Uri(address.TrimEnd('/') + eventPath);
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.Samples.OpenPlatform");
            try
            {
                var ticket = await emulator.PushComponentVerifyTicketAsync(componentAppId, eventUrl, stoppingToken);
                SampleLog.Pushed(logger, "component_verify_ticket", (int)ticket.StatusCode, ticket.Body);
                _pushes = emulator.StartPushingTickets(componentAppId, eventUrl);
                foreach (var authorizer in authorizers)
                {
                    var push = await emulator.PushAuthorizedAsync(componentAppId, authorizer, eventUrl, cancellationToken: stoppingToken);
                    SampleLog.Pushed(logger, $"authorized {authorizer}", (int)push.StatusCode, push.Body);
                }
            }
            catch (HttpRequestException ex)
            {
                SampleLog.PushFailed(logger, ex);
            }
        }
    }

    private static partial class SampleLog
    {
        [LoggerMessage(1, LogLevel.Warning, "No WeChat:Open:ComponentAppSecret configured: the platform runs against the in-process WeChat EMULATOR at {Emulator} (offline demo), which pushes tickets and authorizes the demo accounts. Configure WeChat:Open to use the real Open Platform.")]
        public static partial void EmulatorMode(ILogger logger, Uri emulator);

        [LoggerMessage(2, LogLevel.Information, "Emulator pushed {What}: HTTP {Status} {Body}.")]
        public static partial void Pushed(ILogger logger, string what, int status, string body);

        [LoggerMessage(3, LogLevel.Warning, "The emulator could not push to the event URL.")]
        public static partial void PushFailed(ILogger logger, Exception error);
    }
}
