using System.Security.Cryptography;
using BackgroundCache.WeChat.Testing;

namespace BackgroundCache.Samples.TokenHub;

/// <summary>
/// The ready-to-run token hub: the <c>BackgroundCache.TokenHub</c> package plus, for apps without an AppSecret, an
/// in-process WeChat emulator (Development, or <c>TokenHub:UseEmulator=true</c>). Tests call <see cref="BuildAsync"/> with
/// their own clock and settings.
/// </summary>
public static class TokenHubApp
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

        // The emulator is the sample's, not the package's: a production server package should not carry a fake WeChat.
        // Outside Development (and without TokenHub:UseEmulator=true) it is not started, and the package refuses to start
        // with an app that has no AppSecret.
        var settings = section.Get<HubOptions>() ?? new HubOptions();
        var emulated = settings.Apps.Where(a => string.IsNullOrEmpty(a.Value.AppSecret)).ToList();
        if (emulated.Count > 0 && (builder.Environment.IsDevelopment() || settings.UseEmulator))
        {
            var emulatorOptions = new WeChatEmulatorOptions { TimeProvider = time, Port = settings.EmulatorPort };
            var secrets = emulated.ToDictionary(a => a.Key, _ => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));
            foreach (var (name, app) in emulated)
            {
                emulatorOptions.Apps[app.AppId] = secrets[name];
            }

            var emulator = await WeChatEmulator.StartAsync(emulatorOptions);
            builder.Services.AddSingleton(emulator);
            builder.Services.AddHostedService(sp => new EmulatorLifetime(sp.GetRequiredService<WeChatEmulator>()));
            foreach (var (name, _) in emulated)
            {
                hub.WithEmulatedApp(name, emulator.BaseAddress, secrets[name]);
            }
        }

        var web = builder.Build();
        web.MapTokenHub();
        return web;
    }

    private sealed class EmulatorLifetime(WeChatEmulator emulator) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken) => await emulator.DisposeAsync();
    }
}
