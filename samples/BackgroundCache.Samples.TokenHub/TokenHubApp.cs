using System.Security.Cryptography;
using BackgroundCache.DingTalk.Testing;
using BackgroundCache.Douyin.Testing;
using BackgroundCache.Feishu.Testing;
using BackgroundCache.TokenHub;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using BackgroundCache.WeCom.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace BackgroundCache.Samples.TokenHub;

/// <summary>
/// The ready-to-run token hub: the <c>BackgroundCache.TokenHub</c> package plus, for apps without a secret, in-process
/// emulators of their issuers (Development, or <c>TokenHub:UseEmulator=true</c>): a WeChat emulator for WeChat and Open
/// Platform apps, a small OAuth token endpoint for ClientCredentials apps, and the packages' own emulators for WeCom,
/// Feishu/Lark, DingTalk and Douyin apps. Tests call <see cref="BuildAsync"/> with their own clock and settings.
/// </summary>
public static partial class TokenHubApp
{
    public static async Task<WebApplication> BuildAsync(string[] args, TimeProvider? timeProvider = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        var time = timeProvider ?? TimeProvider.System;
        builder.Services.AddSingleton(time);

        // Defence in depth: no hub endpoint needs more than a few KiB of body (the package limits its one body to 4 KiB).
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = 64 * 1024);

        var section = builder.Configuration.GetSection(HubOptions.SectionName);
        var hub = builder.Services.AddTokenHub(section);

        // The emulators are the sample's, not the package's: a production server package should not carry a fake issuer.
        // Outside Development (and without TokenHub:UseEmulator=true) none is started, and the package refuses to start
        // with an app that has no secret.
        var settings = section.Get<HubOptions>() ?? new HubOptions();
        var emulated = settings.Apps.Where(a => a.Value.HasNoSecret).ToList();
        if (emulated.Count > 0 && (builder.Environment.IsDevelopment() || settings.UseEmulator))
        {
            await EmulateAsync(builder, hub, settings, emulated, time);
        }

        var web = builder.Build();
        web.MapTokenHub();
        return web;
    }

    private static async Task EmulateAsync(WebApplicationBuilder builder, TokenHubBuilder hub, HubOptions settings, List<KeyValuePair<string, HubOptions.AppSecretOnly>> emulated, TimeProvider time)
    {
        static string NewSecret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var wechatApps = emulated.Where(a => a.Value.Is("WeChat") || a.Value.Is("WeChatOpenPlatform")).ToList();
        if (wechatApps.Count > 0)
        {
            var emulatorOptions = new WeChatEmulatorOptions { TimeProvider = time, Port = settings.EmulatorPort };
            var emulator = await WeChatEmulator.StartAsync(emulatorOptions);
            builder.Services.AddSingleton(emulator);
            var platforms = new List<string>();
            foreach (var (name, app) in wechatApps)
            {
                var secret = NewSecret();
                if (app.Is("WeChatOpenPlatform"))
                {
                    // The emulator seals its pushes with the platform's message settings, generated here too.
                    var token = NewSecret();
                    var encodingAesKey = RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 43);
                    emulator.AddComponent(app.ComponentAppId, secret, token, encodingAesKey);
                    builder.Services.PostConfigure<WeChatOpenPlatformOptions>(name, o =>
                    {
                        o.Token = token;
                        o.EncodingAESKey = encodingAesKey;
                    });
                    platforms.Add(name);
                }
                else
                {
                    emulator.AddApp(app.AppId, secret);
                }

                hub.WithEmulatedApp(name, emulator.BaseAddress, secret);
            }

            builder.Services.AddHostedService(sp => new WeChatEmulatorDriver(sp, emulator, [.. platforms.Select(p => (p, settings.Apps[p].ComponentAppId))], settings.DemoAuthorizers));
        }

        var oauthApps = emulated.Where(a => a.Value.Is("ClientCredentials")).ToList();
        if (oauthApps.Count > 0)
        {
            var oauth = await OAuthEmulator.StartAsync();
            builder.Services.AddSingleton(oauth);
            builder.Services.AddHostedService(sp => new Lifetime(oauth));
            foreach (var (name, app) in oauthApps)
            {
                var secret = NewSecret();
                oauth.AddClient(app.ClientId, secret);
                hub.WithEmulatedApp(name, oauth.TokenEndpoint, secret);
            }
        }

        await EmulatePlatformsAsync(builder, hub, emulated, time);
    }

    /// <summary>Starts one emulator for the apps of a platform provider, adds each app to it, and points the app at it.</summary>
    private static async Task EmulatePlatformAsync<TEmulator>(
        WebApplicationBuilder builder,
        TokenHubBuilder hub,
        List<KeyValuePair<string, HubOptions.AppSecretOnly>> emulated,
        string provider,
        Func<HubOptions.AppSecretOnly, string> id,
        Func<Dictionary<string, string>, Task<TEmulator>> start,
        Func<TEmulator, Uri> baseAddress,
        Action<TEmulator, HubOptions.AppSecretOnly, string>? add = null)
        where TEmulator : IAsyncDisposable
    {
        var apps = emulated.Where(a => a.Value.Is(provider)).Select(a => (a.Key, a.Value, Secret: Convert.ToHexString(RandomNumberGenerator.GetBytes(16)))).ToList();
        if (apps.Count == 0)
        {
            return;
        }

        // Apps known before start go in the emulator's options (Feishu's, DingTalk's and Douyin's take them there); the rest are added.
        var emulator = await start(apps.ToDictionary(a => id(a.Value), a => a.Secret, StringComparer.Ordinal));
        builder.Services.AddHostedService(sp => new Lifetime(emulator));
        foreach (var (name, app, secret) in apps)
        {
            add?.Invoke(emulator, app, secret);
            hub.WithEmulatedApp(name, baseAddress(emulator), secret);
        }
    }

    /// <summary>One after the other: each adds services to the builder, which is not thread-safe.</summary>
    private static async Task EmulatePlatformsAsync(WebApplicationBuilder builder, TokenHubBuilder hub, List<KeyValuePair<string, HubOptions.AppSecretOnly>> emulated, TimeProvider time)
    {
        static T WithApps<T>(T options, IDictionary<string, string> target, Dictionary<string, string> apps)
        {
            foreach (var (id, secret) in apps)
            {
                target[id] = secret;
            }

            return options;
        }

        await EmulatePlatformAsync(
            builder,
            hub,
            emulated,
            "WeCom",
            a => a.CorpId,
            _ => WeComEmulator.StartAsync(new WeComEmulatorOptions { TimeProvider = time }),
            e => e.BaseAddress,
            (e, app, secret) => e.AddApp(app.CorpId, secret, app.AgentId));
        await EmulatePlatformAsync(
            builder,
            hub,
            emulated,
            "Feishu",
            a => a.AppId,
            apps =>
            {
                var options = new FeishuEmulatorOptions { TimeProvider = time };
                return FeishuEmulator.StartAsync(WithApps(options, options.Apps, apps));
            },
            e => e.BaseAddress);
        await EmulatePlatformAsync(
            builder,
            hub,
            emulated,
            "DingTalk",
            a => a.AppKey is { Length: > 0 } key ? key : a.ClientId,
            apps =>
            {
                var options = new DingTalkEmulatorOptions { TimeProvider = time };
                return DingTalkEmulator.StartAsync(WithApps(options, options.Apps, apps));
            },
            e => e.BaseAddress);
        await EmulatePlatformAsync(
            builder,
            hub,
            emulated,
            "Douyin",
            a => a.ClientKey,
            apps =>
            {
                var options = new DouyinEmulatorOptions { TimeProvider = time };
                return DouyinEmulator.StartAsync(WithApps(options, options.Apps, apps));
            },
            e => e.BaseAddress);
    }

    private sealed class Lifetime(IAsyncDisposable emulator) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken) => await emulator.DisposeAsync();
    }

    /// <summary>Plays WeChat once the hub listens: pushes each platform's ticket (then every 10 minutes) and authorizes the demo accounts.</summary>
    private sealed class WeChatEmulatorDriver(IServiceProvider services, WeChatEmulator emulator, (string Name, string ComponentAppId)[] platforms, List<string> authorizers) : BackgroundService
    {
        private readonly List<IAsyncDisposable> _pushes = [];

        public override async Task StopAsync(CancellationToken cancellationToken)
        {
            await base.StopAsync(cancellationToken);
            foreach (var push in _pushes)
            {
                await push.DisposeAsync();
            }

            await emulator.DisposeAsync();
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            if (platforms.Length == 0)
            {
                return;
            }

            var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken);
            }

            var address = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.Samples.TokenHub");
            foreach (var (name, componentAppId) in platforms)
            {
                var events = new Uri($"{address.TrimEnd('/')}/events/{name}");
                try
                {
                    await emulator.PushComponentVerifyTicketAsync(componentAppId, events, stoppingToken);
                    _pushes.Add(emulator.StartPushingTickets(componentAppId, events));
                    foreach (var authorizer in authorizers)
                    {
                        await emulator.PushAuthorizedAsync(componentAppId, authorizer, events, cancellationToken: stoppingToken);
                    }
                }
                catch (HttpRequestException ex)
                {
                    PushFailed(logger, ex, events);
                }
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "The WeChat emulator could not push to {Events}.")]
    private static partial void PushFailed(ILogger logger, Exception error, Uri events);
}
