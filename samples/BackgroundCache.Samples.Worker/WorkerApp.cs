using Microsoft.Extensions.Caching.Memory;

namespace BackgroundCache.Samples.Worker;

/// <summary>Exchange rates: the value the worker keeps fresh.</summary>
public sealed record ExchangeRates(string Base, IReadOnlyDictionary<string, decimal> Rates, DateTimeOffset AsOf);

/// <summary>Where rates come from; in a real app an HTTP client of a rates API.</summary>
public interface IRatesProvider
{
    Task<ExchangeRates> GetLatestAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Builds the worker. Tests call <see cref="Build"/> with a fake clock.
/// </summary>
public static class WorkerApp
{
    public const string CacheKey = "exchange-rates";

    public static IHost Build(string[] args, TimeProvider? timeProvider = null, Action<HostApplicationBuilder>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddSingleton(timeProvider ?? TimeProvider.System);
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton<IRatesProvider, SimulatedRatesProvider>();

        // Replaces the hand-written BackgroundService loop: loaded at start, refreshed every RefreshInterval,
        // retried with backoff on failure, last good rates kept, mirrored into IMemoryCache under CacheKey.
        builder.Services.AddRefreshingCache<ExchangeRates>(
                async (sp, ct) => await sp.GetRequiredService<IRatesProvider>().GetLatestAsync(ct),
                o => o.RefreshInterval = TimeSpan.FromSeconds(10))
            .WithMemoryCache(CacheKey);
        builder.Services.AddOptions<RefreshingCacheOptions>().Bind(builder.Configuration.GetSection("Rates"));
        builder.Services.AddHostedService<RatesPrinter>();
        configure?.Invoke(builder);
        return builder.Build();
    }
}

/// <summary>Existing code that reads the rates from IMemoryCache, unchanged.</summary>
internal sealed partial class RatesPrinter(IMemoryCache cache, TimeProvider time, ILogger<RatesPrinter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            if (cache.TryGetValue<ExchangeRates>(WorkerApp.CacheKey, out var rates) && rates is not null)
            {
                Printed(logger, rates.Base, rates.Rates["EUR"], rates.Rates["CNY"], rates.AsOf);
            }

            await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken);
        }
    }

    [LoggerMessage(1, LogLevel.Information, "1 {Base} = {Eur} EUR = {Cny} CNY (as of {AsOf:O})")]
    private static partial void Printed(ILogger logger, string @base, decimal eur, decimal cny, DateTimeOffset asOf);
}

/// <summary>A stand-in for a rates API: a slow random walk, and a counter of calls.</summary>
internal sealed class SimulatedRatesProvider(TimeProvider time) : IRatesProvider
{
    private readonly Lock _gate = new();
    private decimal _eur = 0.92m;
    private decimal _cny = 7.10m;

    public int Calls { get; private set; }

    public Task<ExchangeRates> GetLatestAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Calls++;
#pragma warning disable CA5394 // A demo random walk.
            _eur = decimal.Round(_eur * (1 + ((decimal)Random.Shared.NextDouble() - 0.5m) / 100), 4);
            _cny = decimal.Round(_cny * (1 + ((decimal)Random.Shared.NextDouble() - 0.5m) / 100), 4);
#pragma warning restore CA5394
            var rates = new Dictionary<string, decimal> { ["USD"] = 1m, ["EUR"] = _eur, ["CNY"] = _cny };
            return Task.FromResult(new ExchangeRates("USD", rates, time.GetUtcNow()));
        }
    }
}
