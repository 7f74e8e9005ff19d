using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Shared.Platforms;

/// <summary>
/// A host on a <see cref="FakeTimeProvider"/> with fake logging, whose services a platform test registers (its token caches,
/// handlers); drives the refresher of the cache named <see cref="Name"/>. Linked into the platform test projects.
/// </summary>
internal sealed class PlatformHost : IAsyncDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly RefresherProbe<AccessToken> _probe;

    private PlatformHost(IHost host, FakeTimeProvider time, string name)
    {
        Host = host;
        Time = time;
        Name = name;
        _probe = new RefresherProbe<AccessToken>(host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>(name), time);
    }

    public IHost Host { get; }

    public FakeTimeProvider Time { get; }

    public string Name { get; }

    public IRefreshingCache<AccessToken> Cache => Get(Name);

    public FakeLogCollector Logs => Host.Services.GetFakeLogCollector();

    public static FakeTimeProvider NewTime() => new(new DateTimeOffset(2026, 11, 25, 0, 0, 0, TimeSpan.Zero));

    public static async Task<PlatformHost> StartAsync(FakeTimeProvider time, string name, Action<IServiceCollection> register)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddFakeLogging(o => o.CollectRecordsForDisabledLogLevels = false);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        register(builder.Services);
        var host = new PlatformHost(builder.Build(), time, name);
        await host.Host.StartAsync();
        return host;
    }

    public IRefreshingCache<AccessToken> Get(string name) => Host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);

    /// <summary>An <see cref="HttpClient"/> of the host's factory (its handlers), pointed at <paramref name="baseAddress"/>.</summary>
    public HttpClient CreateClient(string clientName, Uri baseAddress)
    {
        var client = Host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(clientName);
        client.BaseAddress = baseAddress;
        return client;
    }

    public Task WaitIdleAsync() => _probe.WaitIdleAsync();

    public Task AdvanceAsync(TimeSpan step) => _probe.AdvanceAsync(step);

    /// <summary>
    /// Reads the token once a minute for a day, letting every refresh due on the way run; returns how many reads
    /// <paramref name="isValid"/> refused.
    /// </summary>
    public async Task<(int Reads, int Invalid)> ReadForADayAsync(Func<string, bool> isValid)
    {
        var end = Time.GetUtcNow().AddDays(1);
        var reads = 0;
        var invalid = 0;
        while (Time.GetUtcNow() < end)
        {
            Cache.TryGetValue(out var token).Should().BeTrue();
            reads++;
            invalid += isValid(token!.Value) ? 0 : 1;
            await AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        return (reads, invalid);
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(Guard);
        await Host.StopAsync(cts.Token);
        Host.Dispose();
        _probe.Dispose();
    }
}
