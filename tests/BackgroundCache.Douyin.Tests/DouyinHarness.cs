using BackgroundCache.Douyin.Testing;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Douyin.Tests;

/// <summary>One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers app "shop".</summary>
internal static class DouyinHarness
{
    public const string ClientKey = "awshop0123456789";
    public const string ClientSecret = "s3cr3t-0f-the-douyin-app-do-not-print";
    public const string Name = "shop";

    public static async Task<DouyinEmulator> StartEmulatorAsync(FakeTimeProvider time, Action<DouyinEmulatorOptions>? configure = null)
    {
        var options = new DouyinEmulatorOptions { TimeProvider = time };
        options.Apps[ClientKey] = ClientSecret;
        configure?.Invoke(options);
        return await DouyinEmulator.StartAsync(options);
    }

    public static void Configure(DouyinOptions o, DouyinEmulator emulator, bool stable, string secret = ClientSecret)
    {
        o.ClientKey = ClientKey;
        o.ClientSecret = secret;
        o.Stable = stable;
        o.BaseAddress = emulator.BaseAddress;
    }

    /// <summary>Starts the emulator (<paramref name="beforeStart"/> may inject faults) and a host with app "shop".</summary>
    public static async Task<(DouyinEmulator Emulator, PlatformHost Host)> StartAsync(
        bool stable = false,
        Action<DouyinEmulator>? beforeStart = null,
        Action<IServiceCollection>? services = null,
        string secret = ClientSecret)
    {
        var time = PlatformHost.NewTime();
        var emulator = await StartEmulatorAsync(time);
        beforeStart?.Invoke(emulator);
        var host = await PlatformHost.StartAsync(time, Name, s =>
        {
            s.AddDouyinClientToken(Name, o => Configure(o, emulator, stable, secret));
            services?.Invoke(s);
        });
        return (emulator, host);
    }
}
