using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Tests;

public sealed class PeriodicCacheRefresherTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task GetAsync_ThousandConcurrentCallersBeforeFirstLoad_CauseExactlyOneFetch()
    {
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = new FakeUpstream<string>(n => $"v{n}").ThenOnce(_ => gate.Task);
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync);

        var readers = Enumerable.Range(0, 1000).Select(_ => Task.Run(async () => await h.Cache.GetAsync())).ToArray();
        gate.SetResult("first");
        var values = await Task.WhenAll(readers).WaitAsync(Guard);

        values.Should().OnlyContain(v => v == "first");
        upstream.Calls.Should().Be(1);
    }

    [Fact]
    public async Task Invalidate_HundredConcurrentCallersWithCurrentValue_CauseOneFetch()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();
        var current = await h.Cache.GetAsync();
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.ThenOnce(_ => gate.Task);

        await Parallel.ForAsync(0, 100, (_, _) => { h.Cache.Invalidate(current); return ValueTask.CompletedTask; });
        gate.SetResult("v2");
        await h.WaitIdleAsync();
        h.Cache.Invalidate(current); // already replaced: no fetch

        upstream.Calls.Should().Be(2);
        h.Cache.TryGetValue(out var value).Should().BeTrue();
        value.Should().Be("v2");
    }

    [Fact]
    public async Task Invalidate_ValueNoLongerCurrent_DoesNotFetch()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();

        h.Cache.Invalidate("some-older-value");
        await h.Cache.RefreshAsync(); // a forced refresh proves the loop handled any request made before it
        await h.WaitIdleAsync();

        upstream.Calls.Should().Be(2);
    }

    [Fact]
    public async Task RefreshAsync_FiftyConcurrentCallers_ShareOneFetch()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.ThenOnce(_ => gate.Task);

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.Started += call => { if (call == 2) { started.TrySetResult(); } };
        var refreshes = new Task<string>[50];
        Parallel.For(0, refreshes.Length, i => refreshes[i] = h.Cache.RefreshAsync());
        await started.Task.WaitAsync(Guard); // every call was made before the shared fetch can complete
        gate.SetResult("shared");
        var results = await Task.WhenAll(refreshes).WaitAsync(Guard);

        results.Should().OnlyContain(v => v == "shared");
        upstream.Calls.Should().Be(2);
    }

    [Fact]
    public async Task RefreshAsync_FetchFails_ThrowsItsErrorAndKeepsLastValue()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();
        upstream.ThenOnce(_ => FakeUpstream<string>.Fail("upstream down"));

        var act = () => h.Cache.RefreshAsync();

        await act.Should().ThrowAsync<InvalidOperationException>().WithMessage("upstream down");
        h.Cache.TryGetValue(out var value).Should().BeTrue();
        value.Should().Be("v1");
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Stale);
    }

    [Fact]
    public async Task Refresh_FailingForAnHourAfterSuccess_ServesLastValueAndBacksOffToRetryMaxDelay()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o =>
        {
            o.RefreshInterval = TimeSpan.FromMinutes(5);
            o.RetryInitialDelay = TimeSpan.FromSeconds(1);
            o.RetryMaxDelay = TimeSpan.FromMinutes(1);
        });
        await h.WaitIdleAsync();
        upstream.ThenAlways(_ => FakeUpstream<string>.Fail("upstream down"));
        await h.AdvanceToNextRefreshAsync(); // the scheduled refresh fails: the failing hour starts here
        var start = h.Time.GetUtcNow();
        var callsAtStart = upstream.Calls;
        var delays = new List<TimeSpan>();

        while (h.Time.GetUtcNow() - start < TimeSpan.FromHours(1))
        {
            h.Cache.TryGetValue(out var served).Should().BeTrue();
            served.Should().Be("v1");
            delays.Add(await h.AdvanceToNextRefreshAsync());
        }

        var attempts = upstream.Calls - callsAtStart + 1;
        // Nominal delays 1, 2, 4, 8, 16, 32 s then 60 s; each is jittered into [half, all] of its nominal value.
        attempts.Should().BeInRange(66, 125);
        delays.Should().OnlyContain(d => d <= TimeSpan.FromMinutes(1));
        delays.Skip(6).Should().OnlyContain(d => d >= TimeSpan.FromSeconds(30));
        h.Cache.Status.ConsecutiveFailures.Should().Be(attempts);
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Stale);
        h.Cache.Status.LastError.Should().BeOfType<InvalidOperationException>();
        h.Host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested.Should().BeFalse();
        h.Logs.GetSnapshot().Should().Contain(r => r.Level == LogLevel.Warning && r.Id.Id == 1001);
    }

    [Fact]
    public async Task Fetch_Hangs_IsEndedByFetchTimeoutAndKeepsLastValue()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o =>
        {
            o.RefreshInterval = TimeSpan.FromMinutes(5);
            o.FetchTimeout = TimeSpan.FromSeconds(10);
        });
        await h.WaitIdleAsync();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        upstream.ThenOnce(_ => { started.TrySetResult(); return FakeUpstream<string>.Hang(); });

        h.Time.Advance(TimeSpan.FromMinutes(5));
        await started.Task.WaitAsync(Guard);
        h.Time.Advance(TimeSpan.FromSeconds(10));
        await h.WaitIdleAsync();

        h.Cache.Status.LastError.Should().BeOfType<TimeoutException>().Which.Message.Should().Contain("FetchTimeout");
        h.Cache.Status.ConsecutiveFailures.Should().Be(1);
        (await h.Cache.GetAsync()).Should().Be("v1");
    }

    [Fact]
    public async Task StopAsync_DuringHangingFetch_ReturnsPromptly()
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = new FakeUpstream<string>(n => $"v{n}").ThenAlways(_ => { started.TrySetResult(); return FakeUpstream<string>.Hang(); });
        var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.FetchTimeout = TimeSpan.FromHours(1));
        await started.Task.WaitAsync(Guard);

        // Without prompt cancellation StopAsync would wait for the hanging fetch until this token fires.
        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var stop = h.Host.StopAsync(shutdown.Token);
        await stop.WaitAsync(TimeSpan.FromSeconds(2));

        shutdown.IsCancellationRequested.Should().BeFalse("the refresher must stop before the shutdown timeout");
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Stopped);
        h.Host.Dispose();
    }

    [Fact]
    public async Task GetAsync_NeverLoads_ThrowsCacheValueUnavailableWithLastErrorAfterInitialLoadTimeout()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}").ThenAlways(_ => FakeUpstream<string>.Fail("bad secret"));
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o =>
        {
            o.InitialLoadTimeout = TimeSpan.FromSeconds(20);
            o.RetryInitialDelay = TimeSpan.FromMinutes(1);
        });
        await h.WaitIdleAsync();

        var get = h.Cache.GetAsync().AsTask();
        get.IsCompleted.Should().BeFalse();
        h.Time.Advance(TimeSpan.FromSeconds(20));
        var act = () => get;

        var thrown = await act.Should().ThrowAsync<CacheValueUnavailableException>();
        thrown.Which.InnerException.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("bad secret");
        thrown.Which.Message.Should().Contain("InitialLoadTimeout");
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Unavailable);
        h.Cache.TryGetValue(out _).Should().BeFalse();
    }

    [Fact]
    public async Task TokenValue_ExpiresWhileRefreshesFail_IsNeverReturned()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var calls = 0;
        var builder = CacheHarness<AccessToken>.CreateBuilder(time);
        builder.Services.AddRefreshingCache<AccessToken>("token", (_, _) =>
        {
            calls++;
            return calls == 1
                ? ValueTask.FromResult(new AccessToken("secret-1", time.GetUtcNow().AddHours(2)))
                : ValueTask.FromException<AccessToken>(new InvalidOperationException("down"));
        }, o =>
        {
            o.Jitter = TimeSpan.Zero;
            o.RefreshBeforeExpiry = TimeSpan.FromMinutes(5);
            o.RetryMaxDelay = TimeSpan.FromMinutes(10);
        });
        using var host = builder.Build();
        var cache = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("token");
        var idle = new SemaphoreSlim(0);
        host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>("token").OnIdle = () => idle.Release();
        await host.StartAsync();
        (await idle.WaitAsync(Guard)).Should().BeTrue();
        var loadedAt = time.GetUtcNow();

        cache.Status.NextRefreshAt.Should().Be(loadedAt + TimeSpan.FromMinutes(115));
        while (time.GetUtcNow() < loadedAt.AddHours(2).AddMinutes(30))
        {
            var now = time.GetUtcNow();
            var has = cache.TryGetValue(out var token);
            has.Should().Be(now < loadedAt.AddHours(2), $"at {now - loadedAt} after load");
            if (has)
            {
                token!.ExpiresAt.Should().BeAfter(now);
            }

            time.Advance(cache.Status.NextRefreshAt!.Value - now);
            (await idle.WaitAsync(Guard)).Should().BeTrue();
        }

        cache.Status.State.Should().Be(RefreshingCacheState.Unavailable);
        var act = async () => await cache.GetAsync();
        (await act.Should().ThrowAsync<CacheValueUnavailableException>()).Which.InnerException!.Message.Should().Be("down");
        await host.StopAsync();
    }

    [Fact]
    public async Task ExecuteTask_EndsWithStopAsync_OrWithDisposeWhenTheHostNeverStopped()
    {
        var stopped = CacheHarness<string>.CreateBuilder();
        stopped.Services.AddRefreshingCache("a", (_, _) => new ValueTask<string>("v"));
        using (var host = stopped.Build())
        {
            await host.StartAsync();
            var service = host.Services.GetServices<IHostedService>().OfType<BackgroundService>().Single();
            service.ExecuteTask!.IsCompleted.Should().BeFalse("the cache runs until the host stops it");

            using var never = new CancellationTokenSource();
            await host.StopAsync(never.Token);

            // Completed: never left running.
            service.ExecuteTask.IsCompletedSuccessfully.Should().BeTrue();
            service.ExecuteTask.IsFaulted.Should().BeFalse();
        }

        var disposed = CacheHarness<string>.CreateBuilder();
        disposed.Services.AddRefreshingCache("b", (_, _) => new ValueTask<string>("v"));
        var unstopped = disposed.Build();
        await unstopped.StartAsync();
        var execute = unstopped.Services.GetServices<IHostedService>().OfType<BackgroundService>().Single().ExecuteTask!;
        unstopped.Dispose();

        execute.IsCompletedSuccessfully.Should().BeTrue("Dispose ends it");
    }

    [Fact]
    public async Task StartToken_CancelledAfterStart_LeavesTheCacheRunningUntilStop()
    {
        // The start token only aborts a start: the cache holds no token source linked to it. (The base class's start runs
        // the task through Task.Run on a source linked to that token: cancelled later, the task could end cancelled.)
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCache("a", (_, _) => new ValueTask<string>("v"));
        using var host = builder.Build();
        var service = host.Services.GetServices<IHostedService>().OfType<BackgroundService>().Single();
        using var start = new CancellationTokenSource();
        await service.StartAsync(start.Token);

        start.Cancel();

        service.ExecuteTask!.IsCompleted.Should().BeFalse("the cache was not stopped");
        (await host.Services.GetRequiredKeyedService<IRefreshingCache<string>>("a").GetAsync()).Should().Be("v");
        await service.StopAsync(CancellationToken.None);
        service.ExecuteTask.IsCompletedSuccessfully.Should().BeTrue();
    }

    [Fact]
    public async Task MaxStaleness_PlainValueWhileRefreshesFail_IsWithdrawn()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o =>
        {
            o.RefreshInterval = TimeSpan.FromMinutes(1);
            o.MaxStaleness = TimeSpan.FromMinutes(3);
            o.RetryMaxDelay = TimeSpan.FromSeconds(20);
        });
        await h.WaitIdleAsync();
        var loadedAt = h.Time.GetUtcNow();
        upstream.ThenAlways(_ => FakeUpstream<string>.Fail("down"));

        while (h.Time.GetUtcNow() < loadedAt.AddMinutes(4))
        {
            var age = h.Time.GetUtcNow() - loadedAt;
            h.Cache.TryGetValue(out _).Should().Be(age < TimeSpan.FromMinutes(3), $"at age {age}");
            await h.AdvanceToNextRefreshAsync();
        }

        h.Cache.TryGetValue(out _).Should().BeFalse();
        h.Cache.Status.State.Should().Be(RefreshingCacheState.Unavailable);
    }

    [Fact]
    public async Task Schedule_WithJitter_MovesRefreshOnlyEarlier()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o =>
        {
            o.RefreshInterval = TimeSpan.FromMinutes(10);
            o.Jitter = TimeSpan.FromMinutes(1);
        });
        await h.WaitIdleAsync();

        for (var i = 0; i < 20; i++)
        {
            var step = await h.AdvanceToNextRefreshAsync();
            step.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMinutes(9)).And.BeLessThanOrEqualTo(TimeSpan.FromMinutes(10));
        }

        upstream.Calls.Should().Be(21);
    }

    [Fact]
    public async Task Schedule_ShortLivedToken_RefreshesNoEarlierThanHalfItsLife()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var builder = CacheHarness<AccessToken>.CreateBuilder(time);
        builder.Services.AddTokenCache("short", _ => new DelegateTokenSource(() => new AccessToken("t", time.GetUtcNow().AddMinutes(4))), o =>
        {
            o.Jitter = TimeSpan.Zero;
            o.RefreshBeforeExpiry = TimeSpan.FromMinutes(5);
        });
        using var host = builder.Build();
        var idle = new SemaphoreSlim(0);
        host.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>("short").OnIdle = () => idle.Release();
        await host.StartAsync();
        (await idle.WaitAsync(Guard)).Should().BeTrue();

        var status = host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("short").Status;

        (status.NextRefreshAt - status.LastRefreshedAt).Should().Be(TimeSpan.FromMinutes(2));
        await host.StopAsync();
    }

    [Fact]
    public async Task RefreshAsync_WhileUpstreamAsksToWait_FailsWithoutCallingIt()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();
        upstream.ThenOnce(_ => Task.FromException<string>(new QuotaException(TimeSpan.FromHours(3))));
        await FluentActions.Awaiting(() => h.Cache.RefreshAsync()).Should().ThrowAsync<QuotaException>();
        await h.WaitIdleAsync();

        var calls = upstream.Calls;
        await FluentActions.Awaiting(() => h.Cache.RefreshAsync()).Should().ThrowAsync<QuotaException>();

        upstream.Calls.Should().Be(calls);
        (h.Cache.Status.NextRefreshAt - h.Time.GetUtcNow()).Should().BeGreaterThanOrEqualTo(TimeSpan.FromHours(3));
    }

    [Fact]
    public async Task Refresh_PermanentFailure_WaitsRetryMaxDelay()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}").ThenAlways(_ => Task.FromException<string>(new ConfigurationProblem()));
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RetryMaxDelay = TimeSpan.FromMinutes(2));
        await h.WaitIdleAsync();

        for (var i = 0; i < 3; i++)
        {
            (await h.AdvanceToNextRefreshAsync()).Should().Be(TimeSpan.FromMinutes(2));
        }
    }

    [Fact]
    public async Task StartAsync_WaitForInitialLoad_ReturnsAfterTheFirstValue()
    {
        var gate = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = new FakeUpstream<string>(n => $"v{n}").ThenOnce(_ => gate.Task);
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.WaitForInitialLoad = true, start: false);

        var start = h.Host.StartAsync();
        await Task.Yield();
        start.IsCompleted.Should().BeFalse();
        gate.SetResult("loaded");
        await start.WaitAsync(Guard);

        h.Cache.TryGetValue(out var value).Should().BeTrue();
        value.Should().Be("loaded");
    }

    [Fact]
    public async Task Reads_LoadedValue_AllocateNothing()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync);
        await h.WaitIdleAsync();
        var cache = h.Cache;
        ReadMany(cache); // warm up (JIT, tiering)

        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = ReadMany(cache);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        found.Should().Be(20_000);
        allocated.Should().Be(0);
    }

    private static int ReadMany(IRefreshingCache<string> cache)
    {
        var found = 0;
        for (var i = 0; i < 10_000; i++)
        {
            if (cache.TryGetValue(out var v) && v.Length > 0)
            {
                found++;
            }

            var pending = cache.GetAsync();
            if (pending.IsCompletedSuccessfully && pending.Result.Length > 0)
            {
                found++;
            }
        }

        return found;
    }

    [Fact]
    public async Task Status_AfterLoad_ReportsVersionTimesAndState()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromMinutes(7));
        await h.WaitIdleAsync();
        var loadedAt = h.Time.GetUtcNow();
        await h.AdvanceToNextRefreshAsync();

        var status = h.Cache.Status;

        status.Name.Should().Be("test");
        status.State.Should().Be(RefreshingCacheState.Fresh);
        status.Version.Should().Be(2);
        status.LastRefreshedAt.Should().Be(loadedAt.AddMinutes(7));
        status.NextRefreshAt.Should().Be(loadedAt.AddMinutes(14));
        status.ConsecutiveFailures.Should().Be(0);
        status.LastError.Should().BeNull();
        status.GetAge(h.Time.GetUtcNow()).Should().Be(TimeSpan.Zero);
    }

    private sealed class DelegateTokenSource(Func<AccessToken> next) : ITokenSource
    {
        public ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken) => ValueTask.FromResult(next());
    }

    private sealed class QuotaException(TimeSpan retryAfter) : Exception("daily quota reached"), IRefreshRetryAdvice
    {
        public bool IsTransient => false;

        public TimeSpan? RetryAfter => retryAfter;
    }

    private sealed class ConfigurationProblem() : Exception("bad secret"), IRefreshRetryAdvice
    {
        public bool IsTransient => false;

        public TimeSpan? RetryAfter => null;
    }
}
