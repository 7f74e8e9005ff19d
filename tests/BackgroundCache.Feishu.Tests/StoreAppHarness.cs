using System.Net;
using System.Text;
using BackgroundCache.Feishu.Testing;
using BackgroundCache.Internal.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Feishu.Tests;

/// <summary>
/// A store app "isv" on a web app (its event URL mapped) and an emulator that pushes to it, on one fake clock. Time moves
/// only through <see cref="AdvanceAsync"/>.
/// </summary>
internal sealed class StoreAppHarness : IAsyncDisposable
{
    public const string Name = "isv";
    public const string AppId = "cli_st0re0app00001";
    public const string AppSecret = "st0re-app-s3cr3t-never-print-me";
    public const string VerificationToken = "v3rification-t0ken";
    public const string EncryptKey = "3ncrypt-k3y-of-the-app";
    public const string EventPath = "/feishu/events";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = new();

    private StoreAppHarness(FeishuEmulator emulator, WebApplication app, FakeTimeProvider time, FeishuEmulatorStoreApp emulated)
    {
        Emulator = emulator;
        App = app;
        Time = time;
        Emulated = emulated;
        StoreApp = app.Services.GetRequiredKeyedService<FeishuStoreApp>(Name);
        AppRefresher = app.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);
        Engine = app.Services.GetRequiredKeyedService<RefreshingCacheSet<string, AccessToken>>(Name);
    }

    public FeishuEmulator Emulator { get; }

    public FeishuEmulatorStoreApp Emulated { get; }

    public WebApplication App { get; }

    public FakeTimeProvider Time { get; }

    public FeishuStoreApp StoreApp { get; }

    public PeriodicCacheRefresher<AccessToken> AppRefresher { get; }

    public RefreshingCacheSet<string, AccessToken> Engine { get; }

    public Uri EventUrl { get; private set; } = null!;

    public static async Task<StoreAppHarness> StartAsync(Action<IServiceCollection>? services = null, bool encrypt = true, Action<FeishuStoreAppBuilder>? storeApp = null)
    {
        var time = FeishuHarness.NewClock();
        var options = new FeishuEmulatorOptions { TimeProvider = time };
        var emulated = new FeishuEmulatorStoreApp { AppSecret = AppSecret, VerificationToken = VerificationToken, EncryptKey = encrypt ? EncryptKey : null };
        options.StoreApps[AppId] = emulated;
        var emulator = await FeishuEmulator.StartAsync(options);

        // The event URL is known before the app starts: its first fetch asks for a resend, whose push must find it.
        var port = FreePort();
        emulated.EventEndpoint = new Uri($"http://127.0.0.1:{port}{EventPath}");
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<TimeProvider>(time);
        var registration = builder.Services.AddFeishuStoreApp(Name, o =>
        {
            o.AppId = AppId;
            o.AppSecret = AppSecret;
            o.VerificationToken = VerificationToken;
            o.EncryptKey = encrypt ? EncryptKey : null;
            o.BaseAddress = emulator.BaseAddress;
        });
        builder.Services.Configure<RefreshingCacheOptions>(Name, o => o.RetryMaxDelay = TimeSpan.FromMinutes(2));
        storeApp?.Invoke(registration);
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapFeishuEvents(EventPath, Name);
        var harness = new StoreAppHarness(emulator, app, time, emulated);
        harness.EventUrl = emulated.EventEndpoint;
        await app.StartAsync();

        // The first fetch asks for a resend at start, and its push may come before the event URL listens (Feishu would push
        // again later): then the retry a minute on asks again.
        // On a loaded machine that can happen more than once: step the clock a minute at a time (each step at most one
        // resend, as the app allows) until the app token is there, for at most ten minutes.
        await harness.QuiesceAsync();
        for (var minute = 0; minute < 10 && !harness.StoreApp.AppAccessToken.TryGetValue(out _); minute++)
        {
            await harness.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        if (!harness.StoreApp.AppAccessToken.TryGetValue(out _))
        {
            var status = harness.StoreApp.AppAccessToken.Status;
            await harness.DisposeAsync();
            throw new InvalidOperationException(
                $"The store app has no app token ten minutes after start: {emulator.ResendCalls} resends, {emulator.PushesSent} pushes, {emulator.PushFailures} failed; status {status.State}: {status.LastError?.Message}");
        }

        return harness;
    }

    /// <summary>Waits (on real signals) until no fetch of the set runs, the app token refresher waits, and every push was answered.</summary>
    public async Task QuiesceAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        while (true)
        {
            await Emulator.WaitForPushesAsync().WaitAsync(cts.Token);
            await Engine.WhenQuiescentAsync().WaitAsync(cts.Token);
            if ((AppRefresher.IsWaiting || AppRefresher.Status.State == RefreshingCacheState.Stopped) && Engine.ActiveAttempts == 0)
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

    /// <summary>Posts a raw body with headers to the event URL.</summary>
    public async Task<(HttpStatusCode Status, string Body)> PostAsync(string body, string? timestamp = null, string? nonce = null, string? signature = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, EventUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (timestamp is not null)
        {
            request.Headers.Add("X-Lark-Request-Timestamp", timestamp);
            request.Headers.Add("X-Lark-Request-Nonce", nonce);
            request.Headers.Add("X-Lark-Signature", signature);
        }

        using var response = await _http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Emulator.WaitForPushesAsync();
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
        await Emulator.DisposeAsync();
        _http.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private DateTimeOffset? NextDue()
    {
        var set = Engine.Scheduler.NextDue;
        var app = AppRefresher.Status.NextRefreshAt;
        return set is null ? app : app is null ? set : (set < app ? set : app);
    }
}
