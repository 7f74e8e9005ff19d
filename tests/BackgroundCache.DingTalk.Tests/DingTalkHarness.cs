using BackgroundCache.DingTalk.Testing;
using BackgroundCache.Tests.Shared.Platforms;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.DingTalk.Tests;

/// <summary>One emulator and one host sharing a <see cref="FakeTimeProvider"/>; the host registers app "crm".</summary>
internal static class DingTalkHarness
{
    public const string AppKey = "dingabcdefghijklmno";
    public const string AppSecret = "s3cr3t-0f-the-dingtalk-app-do-not-print";
    public const string Name = "crm";

    public static async Task<DingTalkEmulator> StartEmulatorAsync(FakeTimeProvider time)
    {
        var options = new DingTalkEmulatorOptions { TimeProvider = time };
        options.Apps[AppKey] = AppSecret;
        return await DingTalkEmulator.StartAsync(options);
    }

    public static void Configure(DingTalkOptions o, DingTalkEmulator emulator, DingTalkApi api, string secret = AppSecret)
    {
        o.AppKey = AppKey;
        o.AppSecret = secret;
        o.Api = api;
        o.BaseAddress = emulator.BaseAddress;
        o.LegacyBaseAddress = emulator.BaseAddress;
    }

    /// <summary>Starts the emulator (<paramref name="beforeStart"/> may inject faults) and a host with app "crm".</summary>
    public static async Task<(DingTalkEmulator Emulator, PlatformHost Host)> StartAsync(
        DingTalkApi api = DingTalkApi.New,
        Action<DingTalkEmulator>? beforeStart = null,
        Action<IServiceCollection>? services = null,
        string secret = AppSecret)
    {
        var time = PlatformHost.NewTime();
        var emulator = await StartEmulatorAsync(time);
        beforeStart?.Invoke(emulator);
        var host = await PlatformHost.StartAsync(time, Name, s =>
        {
            s.AddDingTalkAccessToken(Name, o => Configure(o, emulator, api, secret));
            services?.Invoke(s);
        });
        return (emulator, host);
    }
}
