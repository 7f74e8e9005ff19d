using System.Net;
using System.Text;
using BackgroundCache.Internal.Engine;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.WeChat.Tests.OpenPlatform;

/// <summary>
/// An emulator and a real ASP.NET Core app (Kestrel on 127.0.0.1) sharing a <see cref="FakeTimeProvider"/>: the app
/// registers the platform "platform" and maps its event URL. Time moves only through <see cref="AdvanceAsync"/>, which
/// steps from one due time of the component token or the authorizer set to the next and waits until both are idle.
/// </summary>
internal sealed class OpenPlatformHarness : IAsyncDisposable
{
    public const string Name = "platform";
    public const string ComponentAppId = "wx0c0mp0nent0000a1";
    public const string ComponentAppSecret = "c0mp0nent-s3cr3t-never-print-me";
    public const string Token = "pamtest";
    public const string EncodingAesKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    public const string EventPath = "/wechat/open/events";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = new();

    private OpenPlatformHarness(WeChatEmulator emulator, WebApplication app, FakeTimeProvider time)
    {
        Emulator = emulator;
        App = app;
        Time = time;
        Platform = app.Services.GetRequiredKeyedService<WeChatOpenPlatform>(Name);
        ComponentToken = app.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
        ComponentRefresher = app.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);
        Authorizers = app.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(Name);
        Engine = app.Services.GetRequiredKeyedService<RefreshingCacheSet<string, AccessToken>>(Name);
        Store = app.Services.GetRequiredService<IWeChatOpenPlatformStore>();
    }

    public WeChatEmulator Emulator { get; }

    public WebApplication App { get; }

    public FakeTimeProvider Time { get; }

    public WeChatOpenPlatform Platform { get; }

    public IRefreshingCache<AccessToken> ComponentToken { get; }

    public PeriodicCacheRefresher<AccessToken> ComponentRefresher { get; }

    public IRefreshingCacheSet<string, AccessToken> Authorizers { get; }

    public RefreshingCacheSet<string, AccessToken> Engine { get; }

    public IWeChatOpenPlatformStore Store { get; }

    public Uri EventUrl { get; private set; } = null!;

    public FakeLogCollector Logs => App.Services.GetFakeLogCollector();

    public static async Task<OpenPlatformHarness> StartAsync(
        Action<IServiceCollection, WeChatEmulator>? services = null,
        Action<WeChatEmulatorOptions>? emulatorOptions = null,
        Func<OpenPlatformHarness, Task>? beforeStart = null,
        Action<WeChatOpenPlatformBuilder>? platform = null,
        bool start = true)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));
        var options = new WeChatEmulatorOptions { TimeProvider = time };
        emulatorOptions?.Invoke(options);
        var emulator = await WeChatEmulator.StartAsync(options);
        emulator.AddComponent(ComponentAppId, ComponentAppSecret, Token, EncodingAesKey);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        var registration = builder.Services.AddWeChatOpenPlatform(Name, o =>
        {
            o.ComponentAppId = ComponentAppId;
            o.ComponentAppSecret = ComponentAppSecret;
            o.Token = Token;
            o.EncodingAESKey = EncodingAesKey;
            o.BaseAddress = emulator.BaseAddress;
        });
        builder.Services.Configure<RefreshingCacheOptions>(Name, o => o.RetryMaxDelay = TimeSpan.FromMinutes(2));
        platform?.Invoke(registration);
        services?.Invoke(builder.Services, emulator);
        var app = builder.Build();
        app.MapWeChatOpenPlatformEvents(EventPath, Name);
        var harness = new OpenPlatformHarness(emulator, app, time);
        if (beforeStart is not null)
        {
            await beforeStart(harness);
        }

        if (start)
        {
            await harness.StartAppAsync();
        }

        return harness;
    }

    public async Task StartAppAsync()
    {
        await App.StartAsync();
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        EventUrl = new Uri(address.TrimEnd('/') + EventPath);
        await QuiesceAsync();
    }

    /// <summary>Pushes a ticket and waits until the component token has loaded.</summary>
    public async Task<AccessToken> PushTicketAndLoadAsync()
    {
        var push = await Emulator.PushComponentVerifyTicketAsync(ComponentAppId, EventUrl);
        push.IsSuccess.Should().BeTrue($"the push was answered {push.StatusCode} {push.Body}");
        await QuiesceAsync(); // the push started the fetch before it was answered
        ComponentToken.TryGetValue(out var token).Should().BeTrue();
        return token!;
    }

    /// <summary>Posts a raw push (query and body as given) to the event URL.</summary>
    public async Task<(HttpStatusCode Status, string Body)> PostAsync(string query, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "text/xml");
        using var response = await _http.PostAsync(new Uri(EventUrl + "?" + query), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Waits (on real signals, never a timed sleep) until no fetch of the set runs and the component refresher waits.</summary>
    public async Task QuiesceAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        while (true)
        {
            await Engine.WhenQuiescentAsync().WaitAsync(cts.Token);
            if (IsComponentIdle() && Engine.ActiveAttempts == 0)
            {
                return;
            }

            await Task.Yield();
            cts.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Advances the clock by <paramref name="step"/>, waking every due time on the way and letting its attempts finish.</summary>
    public async Task AdvanceAsync(TimeSpan step, Action? atEachWake = null)
    {
        var target = Time.GetUtcNow() + step;
        await QuiesceAsync();
        while (NextDue() is { } next && next <= target)
        {
            var now = Time.GetUtcNow();
            Time.Advance(next > now ? next - now : TimeSpan.Zero);
            await QuiesceAsync();
            atEachWake?.Invoke();
        }

        if (target > Time.GetUtcNow())
        {
            Time.Advance(target - Time.GetUtcNow());
        }

        await QuiesceAsync();
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
        await Emulator.DisposeAsync();
        _http.Dispose();
    }

    private bool IsComponentIdle() => ComponentRefresher.IsWaiting || ComponentRefresher.Status.State == RefreshingCacheState.Stopped;

    private DateTimeOffset? NextDue()
    {
        var set = Engine.Scheduler.NextDue;
        var component = ComponentRefresher.Status.NextRefreshAt;
        return set is null ? component : component is null ? set : (set < component ? set : component);
    }
}
