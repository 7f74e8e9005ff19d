using System.Net;
using System.Text;
using BackgroundCache.Internal.Engine;
using BackgroundCache.Stores;
using BackgroundCache.WeCom.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.WeCom.Tests;

/// <summary>An emulator and a web app with a WeCom suite and its instruction URL, sharing a <see cref="FakeTimeProvider"/>.</summary>
internal sealed class SuiteHarness : IAsyncDisposable
{
    public const string Name = "isv";
    public const string SuiteId = "wwsuite0123456789";
    public const string SuiteSecret = "su1te-s3cr3t-never-print-me-0123456789";
    public const string Token = "wecomtoken";
    public const string EncodingAesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    public const string EventPath = "/wecom/suite/events";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = new();

    private SuiteHarness(WeComEmulator emulator, WebApplication app, FakeTimeProvider time)
    {
        Emulator = emulator;
        App = app;
        Time = time;
        Suite = app.Services.GetRequiredKeyedService<WeComSuite>(Name);
        SuiteToken = app.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
        SuiteRefresher = app.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(Name);
        Corps = app.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>(Name);
        Engine = app.Services.GetRequiredKeyedService<RefreshingCacheSet<string, AccessToken>>(Name);
        Secrets = app.Services.GetRequiredService<IRefreshSecretStore>();
        Tickets = app.Services.GetRequiredService<IPushedTicketStore>();
    }

    public WeComEmulator Emulator { get; }

    public WebApplication App { get; }

    public FakeTimeProvider Time { get; }

    public WeComSuite Suite { get; }

    public IRefreshingCache<AccessToken> SuiteToken { get; }

    public PeriodicCacheRefresher<AccessToken> SuiteRefresher { get; }

    public IRefreshingCacheSet<string, AccessToken> Corps { get; }

    public RefreshingCacheSet<string, AccessToken> Engine { get; }

    public IRefreshSecretStore Secrets { get; }

    public IPushedTicketStore Tickets { get; }

    public Uri EventUrl { get; private set; } = null!;

    public static string CodesScope => $"wecom:suite:{SuiteId}:permanent_codes";

    public static string TicketKey => $"wecom:suite:{SuiteId}:ticket";

    public static async Task<SuiteHarness> StartAsync(
        Action<IServiceCollection>? services = null,
        Func<SuiteHarness, Task>? beforeStart = null,
        Action<WeComSuiteBuilder>? suite = null)
    {
        var time = WeComHarness.NewClock();
        var emulator = await WeComEmulator.StartAsync(new WeComEmulatorOptions { TimeProvider = time });
        emulator.AddSuite(SuiteId, SuiteSecret, Token, EncodingAesKey);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<TimeProvider>(time);
        var registration = builder.Services.AddWeComSuite(Name, o =>
        {
            o.SuiteId = SuiteId;
            o.SuiteSecret = SuiteSecret;
            o.Token = Token;
            o.EncodingAESKey = EncodingAesKey;
            o.BaseAddress = emulator.BaseAddress;
        });
        builder.Services.Configure<RefreshingCacheOptions>(Name, o => o.RetryMaxDelay = TimeSpan.FromMinutes(2));
        suite?.Invoke(registration);
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapWeComSuiteEvents(EventPath, Name);
        var harness = new SuiteHarness(emulator, app, time);
        if (beforeStart is not null)
        {
            await beforeStart(harness);
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        harness.EventUrl = new Uri(address.TrimEnd('/') + EventPath);
        await harness.QuiesceAsync();
        return harness;
    }

    public async Task<(HttpStatusCode Status, string Body)> PostAsync(string query, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "text/xml");
        using var response = await _http.PostAsync(new Uri(EventUrl + "?" + query), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string query)
    {
        using var response = await _http.GetAsync(new Uri(EventUrl + "?" + query));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task QuiesceAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        while (true)
        {
            await Engine.WhenQuiescentAsync().WaitAsync(cts.Token);
            if ((SuiteRefresher.IsWaiting || SuiteRefresher.Status.State == RefreshingCacheState.Stopped) && Engine.ActiveAttempts == 0)
            {
                return;
            }

            await Task.Yield();
            cts.Token.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Advances the clock by <paramref name="step"/>, stopping at every refresh due on the way and letting it finish.</summary>
    public async Task AdvanceAsync(TimeSpan step)
    {
        var target = Time.GetUtcNow() + step;
        await QuiesceAsync();
        while (NextDue() is { } next && next <= target)
        {
            var now = Time.GetUtcNow();
            Time.Advance(next > now ? next - now : TimeSpan.Zero);
            await QuiesceAsync();
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

    private DateTimeOffset? NextDue()
    {
        var set = Engine.Scheduler.NextDue;
        var suite = SuiteRefresher.Status.NextRefreshAt;
        return set is null ? suite : suite is null ? set : (set < suite ? set : suite);
    }
}
