using BackgroundCache.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.OAuth.Tests;

/// <summary>
/// A host with a client credentials token "billing" on a <see cref="FakeTimeProvider"/>, and an <see cref="HttpClient"/>
/// "api" that calls the protected API through <c>AddClientCredentialsTokenHandler("billing")</c>.
/// </summary>
internal sealed class ClientHost : IAsyncDisposable
{
    public const string Name = "billing";
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<AccessToken>? _probe;

    private ClientHost(IHost host, FakeTimeProvider time)
    {
        Host = host;
        Time = time;
        Cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
        if (host.Services.GetKeyedService<PeriodicCacheRefresher<AccessToken>>(Name) is { } refresher)
        {
            _probe = new RefresherProbe<AccessToken>(refresher, time);
        }
    }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public IRefreshingCache<AccessToken> Cache { get; }

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public HttpClient Api => Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("api");

    public static FakeTimeProvider NewClock() => new(TimeProvider.System.GetUtcNow());

    public static async Task<ClientHost> StartAsync(
        Action<ClientCredentialsOptions> configure,
        Uri? apiBase = null,
        FakeTimeProvider? time = null,
        Action<IServiceCollection>? services = null,
        Action<RefreshingCacheBuilder<AccessToken>>? build = null,
        bool waitForFirstToken = true)
    {
        time ??= NewClock();
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        var cache = builder.Services.AddClientCredentialsToken(Name, configure);
        build?.Invoke(cache);
        builder.Services.AddHttpClient("api", c => c.BaseAddress = apiBase ?? new Uri("http://127.0.0.1:1/")).AddClientCredentialsTokenHandler(Name);
        services?.Invoke(builder.Services);
        var host = builder.Build();
        var client = new ClientHost(host, time);
        using var cts = new CancellationTokenSource(Guard);
        await host.StartAsync(cts.Token);
        if (waitForFirstToken)
        {
            await client.WaitIdleAsync();
        }

        return client;
    }

    public Task WaitIdleAsync() => _probe?.WaitIdleAsync() ?? Task.CompletedTask;

    public Task AdvanceAsync(TimeSpan step) => _probe!.AdvanceAsync(step);

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
        _probe?.Dispose();
    }
}
