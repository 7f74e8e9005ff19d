using Microsoft.Extensions.DependencyInjection;

namespace BackgroundCache.Tests;

/// <summary>
/// A fetch written as a <see cref="Task{TResult}"/> method group, an async lambda (with or without the type argument), a
/// lambda returning a Task, or a ValueTask method: each compiles as written and loads (issue #13, CS0029 before).
/// </summary>
public sealed class FetchOverloadTests
{
    [Fact]
    public async Task EveryUsualShapeOfFetch_CompilesAndLoads()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRefreshingCache<Rates>("task-method-group", FetchRatesAsync);
        services.AddRefreshingCache("task-method-group-inferred", FetchRatesAsync);
        services.AddRefreshingCache("value-task-method-group", FetchRatesValueAsync);
        services.AddRefreshingCache<Rates>("async-lambda", async (_, ct) => await FetchRatesAsync(null!, ct));
        services.AddRefreshingCache("async-lambda-inferred", async (IServiceProvider _, CancellationToken ct) => await FetchRatesAsync(null!, ct));
        services.AddRefreshingCache<Rates>("task-lambda", (_, ct) => FetchRatesAsync(null!, ct));
        services.AddRefreshingCacheSet<string, Rates>("set-task-method-group", FetchKeyedAsync);
        services.AddRefreshingCacheSet<string, Rates>("set-async-lambda", async (_, key, ct) => await FetchKeyedAsync(null!, key, ct));
        await using var provider = services.BuildServiceProvider();
        var names = new[] { "task-method-group", "task-method-group-inferred", "value-task-method-group", "async-lambda", "async-lambda-inferred", "task-lambda" };

        foreach (var refresher in provider.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await refresher.StartAsync(CancellationToken.None);
        }

        foreach (var name in names)
        {
            (await provider.GetRequiredKeyedService<IRefreshingCache<Rates>>(name).GetAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Usd.Should().Be(7.1m, name);
        }

        foreach (var name in new[] { "set-task-method-group", "set-async-lambda" })
        {
            (await provider.GetRequiredKeyedService<IRefreshingCacheSet<string, Rates>>(name).GetAsync("cny").AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Usd.Should().Be(7.1m, name);
        }
    }

    private static async Task<Rates> FetchRatesAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return new Rates(7.1m);
    }

    private static ValueTask<Rates> FetchRatesValueAsync(IServiceProvider services, CancellationToken cancellationToken) => new(new Rates(7.1m));

    private static Task<Rates> FetchKeyedAsync(IServiceProvider services, string key, CancellationToken cancellationToken) => Task.FromResult(new Rates(7.1m));

    private sealed record Rates(decimal Usd);
}

public sealed class StatusTextTests
{
    [Fact]
    public void ToString_ReadsAsOneLine_WithStateVersionTimesAndTheError()
    {
        var at = new DateTimeOffset(2026, 11, 26, 8, 0, 0, TimeSpan.Zero);
        var status = new RefreshingCacheStatus
        {
            Name = "rates",
            State = RefreshingCacheState.Stale,
            Version = 3,
            LastRefreshedAt = at,
            ExpiresAt = at.AddHours(2),
            NextRefreshAt = at.AddMinutes(1),
            ConsecutiveFailures = 2,
            LastError = new TimeoutException("upstream slow"),
        };

        status.ToString().Should().Be("rates: Stale, version 3, refreshed 2026-11-26T08:00:00Z, expires 2026-11-26T10:00:00Z, next refresh 2026-11-26T08:01:00Z, 2 failures in a row, last error TimeoutException: upstream slow");
        new RefreshingCacheStatus { Name = string.Empty, State = RefreshingCacheState.Loading }.ToString().Should().Be("(default): Loading");
    }
}
