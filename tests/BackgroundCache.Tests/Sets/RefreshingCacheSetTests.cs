using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace BackgroundCache.Tests.Sets;

public sealed class RefreshingCacheSetTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task GetOrAdd_FetchThatBlocksItsThread_ReturnsAtOnceAndLoadsInTheBackground()
    {
        using var release = new ManualResetEventSlim();
        await using var h = await SetHarness<string, string>.StartAsync((_, key, _) =>
        {
            release.Wait(Guard, CancellationToken.None); // blocks synchronously: GetOrAdd must not run it on the caller's thread
            return ValueTask.FromResult($"value-of-{key}");
        });

        var cache = h.Set.GetOrAdd("a");

        cache.TryGetValue(out _).Should().BeFalse();
        h.Set.Count.Should().Be(1);
        release.Set();
        (await cache.GetAsync().AsTask().WaitAsync(Guard)).Should().Be("value-of-a");
        h.Set.TryGetValue("a", out var value).Should().BeTrue();
        value.Should().Be("value-of-a");
    }

    [Fact]
    public async Task TryGetValue_AbsentKey_NeitherAddsNorFetches()
    {
        var calls = 0;
        await using var h = await SetHarness<string, string>.StartAsync((_, key, _) => { Interlocked.Increment(ref calls); return ValueTask.FromResult(key); });

        h.Set.TryGetValue("absent", out _).Should().BeFalse();

        h.Set.Count.Should().Be(0);
        await h.QuiesceAsync();
        calls.Should().Be(0);
    }

    [Fact]
    public async Task GetAsync_ConcurrentReadersOfNewKeys_FetchEachKeyOnce()
    {
        var calls = new ConcurrentDictionary<string, int>();
        await using var h = await SetHarness<string, string>.StartAsync((_, key, _) =>
        {
            calls.AddOrUpdate(key, 1, (_, n) => n + 1);
            return ValueTask.FromResult($"v-{key}");
        });

        var reads = Enumerable.Range(0, 1000).Select(i => Task.Run(async () => await h.Set.GetAsync($"k{i % 50}"))).ToArray();
        var values = await Task.WhenAll(reads).WaitAsync(Guard);

        values.Should().HaveCount(1000).And.OnlyContain(v => v.StartsWith("v-k", StringComparison.Ordinal));
        calls.Should().HaveCount(50).And.OnlyContain(kv => kv.Value == 1);
        h.Set.Count.Should().Be(50);
    }

    [Fact]
    public async Task MaxConcurrentFetches_HundredKeysAtOnce_NeverMoreFetchesInFlightThanTheCap()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inFlight = 0, maxInFlight = 0, started = 0;
        await using var h = await SetHarness<int, int>.StartAsync(
            async (_, key, _) =>
            {
                var now = Interlocked.Increment(ref inFlight);
                InterlockedMax(ref maxInFlight, now);
                if (Interlocked.Increment(ref started) == 4)
                {
                    gate.TrySetResult(); // the first four hold their slots until all four run at once
                }

                await gate.Task;
                Interlocked.Decrement(ref inFlight);
                return key;
            },
            configureSet: o => o.MaxConcurrentFetches = 4);

        for (var i = 0; i < 100; i++)
        {
            h.Set.GetOrAdd(i);
        }

        await h.QuiesceAsync();

        maxInFlight.Should().Be(4);
        started.Should().Be(100);
        for (var i = 0; i < 100; i++)
        {
            h.Set.TryGetValue(i, out var v).Should().BeTrue();
            v.Should().Be(i);
        }
    }

    [Fact]
    public async Task RefreshAsync_FiftyConcurrentCallersOnOneKey_ShareOneFetch()
    {
        var calls = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await SetHarness<string, string>.StartAsync(
            async (_, key, _) =>
            {
                var n = Interlocked.Increment(ref calls);
                if (n == 2)
                {
                    secondStarted.TrySetResult();
                    await gate.Task;
                }

                return $"{key}-{n}";
            },
            o => o.RefreshInterval = TimeSpan.FromHours(1));
        var cache = h.Set.GetOrAdd("k");
        await cache.GetAsync().AsTask().WaitAsync(Guard);

        var refreshes = new Task<string>[50];
        Parallel.For(0, refreshes.Length, i => refreshes[i] = cache.RefreshAsync());
        await secondStarted.Task.WaitAsync(Guard); // every call was made before the shared fetch can complete
        gate.SetResult();
        var results = await Task.WhenAll(refreshes).WaitAsync(Guard);

        results.Should().OnlyContain(v => v == "k-2");
        calls.Should().Be(2);
    }

    [Fact]
    public async Task Invalidate_HundredCallersWithTheCurrentValue_CauseOneFetch()
    {
        var calls = 0;
        await using var h = await SetHarness<string, string>.StartAsync(
            (_, key, _) => ValueTask.FromResult($"{key}-{Interlocked.Increment(ref calls)}"),
            o => o.RefreshInterval = TimeSpan.FromHours(1));
        var cache = h.Set.GetOrAdd("k");
        var current = await cache.GetAsync().AsTask().WaitAsync(Guard);

        await Parallel.ForAsync(0, 100, (_, _) => { cache.Invalidate(current); return ValueTask.CompletedTask; });
        await h.QuiesceAsync();

        calls.Should().Be(2);
        cache.TryGetValue(out var replaced).Should().BeTrue();
        replaced.Should().Be("k-2");
    }

    [Fact]
    public async Task OneKeyThatKeepsFailing_NeverSlowsTheOthers()
    {
        var calls = new ConcurrentDictionary<string, int>();
        await using var h = await SetHarness<string, string>.StartAsync(
            (_, key, _) =>
            {
                var n = calls.AddOrUpdate(key, 1, (_, c) => c + 1);
                return key == "bad" ? ValueTask.FromException<string>(new InvalidOperationException("revoked")) : ValueTask.FromResult($"{key}-{n}");
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(5);
                o.RetryInitialDelay = TimeSpan.FromSeconds(1);
                o.RetryMaxDelay = TimeSpan.FromSeconds(30);
            },
            o => o.MaxConcurrentFetches = 1);
        foreach (var key in new[] { "bad", "a", "b", "c" })
        {
            h.Set.GetOrAdd(key);
        }

        await h.AdvanceAsync(TimeSpan.FromHours(1));

        // 1 load + 12 refreshes in the hour for every good key, exactly on schedule.
        calls["a"].Should().Be(13);
        calls["b"].Should().Be(13);
        calls["c"].Should().Be(13);
        calls["bad"].Should().BeGreaterThan(100, "the failing key keeps retrying at up to RetryMaxDelay");
        h.Engine.InOutage.Should().BeFalse();
        h.Set.GetOrAdd("a").Status.State.Should().Be(RefreshingCacheState.Fresh);
        h.Set.GetOrAdd("bad").Status.State.Should().Be(RefreshingCacheState.Unavailable);
    }

    [Fact]
    public async Task Outage_ThousandKeysDownForTenMinutes_CostsBoundedCallsThenRecovers()
    {
        var down = false;
        var calls = 0;
        await using var h = await SetHarness<int, string>.StartAsync(
            (_, key, _) =>
            {
                Interlocked.Increment(ref calls);
                return down ? ValueTask.FromException<string>(new HttpRequestException("upstream down")) : ValueTask.FromResult($"v{key}");
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(5);
                o.RetryInitialDelay = TimeSpan.FromSeconds(1);
                o.RetryMaxDelay = TimeSpan.FromMinutes(1);
            });
        for (var i = 0; i < 1000; i++)
        {
            h.Set.GetOrAdd(i);
        }

        await h.QuiesceAsync();
        calls.Should().Be(1000);
        down = true;
        var before = calls;

        await h.AdvanceAsync(TimeSpan.FromMinutes(10), () =>
        {
            for (var i = 0; i < 1000; i += 97)
            {
                h.Set.TryGetValue(i, out var value).Should().BeTrue("every key keeps serving its last value");
                value.Should().Be($"v{i}");
            }
        });
        var outageCalls = calls - before;
        output.WriteLine($"calls during the 10-minute outage of 1,000 keys: {outageCalls}");

        outageCalls.Should().BeLessThan(100, "the set backs off as a whole and probes one key at a time (without it: ~15,000 calls)");
        h.Engine.InOutage.Should().BeTrue();
        var health = await CheckHealthAsync(h);
        health.Status.Should().Be(HealthStatus.Unhealthy);

        down = false;
        await h.AdvanceAsync(TimeSpan.FromMinutes(2));

        h.Engine.InOutage.Should().BeFalse();
        h.Engine.Entries.Should().OnlyContain(e => e.Status.State == RefreshingCacheState.Fresh);
        (await CheckHealthAsync(h)).Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task SimulatedDay_ThousandTwoHourTokens_AtMostThirteenFetchesPerKeyAndNoExpiredRead()
    {
        var calls = new int[1000];
        FakeTimeProviderHolder? clock = null;
        await using var h = await SetHarness<int, AccessToken>.StartAsync(
            (_, key, _) =>
            {
                var n = Interlocked.Increment(ref calls[key]);
                return ValueTask.FromResult(new AccessToken($"token-{key}-{n}", clock!.Now() + TimeSpan.FromHours(2)));
            },
            o =>
            {
                o.Jitter = TimeSpan.FromSeconds(30); // defaults: the set spreads the first refresh over a tenth of the lifetime
                o.RefreshBeforeExpiry = TimeSpan.FromMinutes(5);
            },
            start: false);
        clock = new FakeTimeProviderHolder(h.Time);
        for (var i = 0; i < 1000; i++)
        {
            h.Set.GetOrAdd(i);
        }

        await h.Host.StartAsync();
        await h.QuiesceAsync();
        var start = h.Time.GetUtcNow();
        var expiredReads = 0;
        var reads = 0;
        var refreshMinutes = new ConcurrentBag<double>();

        await h.AdvanceAsync(TimeSpan.FromDays(1), () =>
        {
            var now = h.Time.GetUtcNow();
            for (var i = 0; i < 1000; i++)
            {
                if (h.Set.TryGetValue(i, out var token))
                {
                    reads++;
                    if (token.ExpiresAt <= now)
                    {
                        expiredReads++;
                    }
                }
            }
        });

        output.WriteLine($"fetches per key in a simulated day: min {calls.Min()}, max {calls.Max()}, total {calls.Sum()}; reads {reads:N0}, expired reads {expiredReads}");
        expiredReads.Should().Be(0);
        reads.Should().BeGreaterThan(1_000_000);
        calls.Max().Should().BeLessThanOrEqualTo(13);
        calls.Min().Should().BeGreaterThanOrEqualTo(12);
        (h.Time.GetUtcNow() - start).Should().Be(TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task Spread_ThousandKeysLoadedTogether_FirstRefreshesSpreadOverATenthOfTheLifetime()
    {
        await using var h = await SetHarness<int, AccessToken>.StartAsync(
            (_, key, _) => ValueTask.FromResult(new AccessToken($"t{key}", DateTimeOffset.UnixEpoch.AddYears(56))),
            o =>
            {
                o.Jitter = TimeSpan.FromSeconds(30);
                o.RefreshBeforeExpiry = TimeSpan.FromMinutes(5);
            },
            build: b => b.WithExpiry(_ => null),
            services: _ => { });
        h.Time.SetUtcNow(DateTimeOffset.UnixEpoch.AddYears(56));
        await h.QuiesceAsync();

        // Plain values (no expiry) refreshed every RefreshInterval (5 minutes by default): spread over 30 s (the tenth).
        for (var i = 0; i < 1000; i++)
        {
            h.Set.GetOrAdd(i);
        }

        await h.QuiesceAsync();
        var due = h.Engine.Entries.Select(e => e.Status.NextRefreshAt!.Value).ToList();
        var window = due.Max() - due.Min();

        window.Should().BeGreaterThan(TimeSpan.FromSeconds(20)).And.BeLessThanOrEqualTo(TimeSpan.FromSeconds(30));
        due.GroupBy(d => d).Max(g => g.Count()).Should().BeLessThan(10, "no burst of keys refreshing at the same instant");
    }

    [Fact]
    public async Task RemoveAsync_KeyWithFetchInFlight_CancelsItAndStopsItsRefreshes()
    {
        var fetchCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using var h = await SetHarness<string, string>.StartAsync(async (_, key, ct) =>
        {
            Interlocked.Increment(ref calls);
            if (key == "slow")
            {
                ct.Register(() => fetchCancelled.TrySetResult());
                started.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, ct);
            }

            return key;
        });
        var slow = h.Set.GetOrAdd("slow");
        h.Set.GetOrAdd("kept");
        await started.Task.WaitAsync(Guard);

        (await h.Set.RemoveAsync("slow")).Should().BeTrue();

        await fetchCancelled.Task.WaitAsync(Guard);
        await h.QuiesceAsync();
        (await h.Set.RemoveAsync("slow")).Should().BeFalse();
        h.Set.Count.Should().Be(1);
        slow.Status.State.Should().Be(RefreshingCacheState.Stopped);
        await FluentActions.Awaiting(() => slow.GetAsync().AsTask()).Should().ThrowAsync<CacheValueUnavailableException>();
        var callsAfterRemove = calls;
        await h.AdvanceAsync(TimeSpan.FromHours(1));
        h.Set.Keys.Should().Equal("kept");
        calls.Should().Be(callsAfterRemove + 12, "only the kept key refreshes (every 5 minutes)");
    }

    [Fact]
    public async Task EvictAfterIdle_KeyNobodyReads_IsRemovedAndAReadKeyStays()
    {
        await using var h = await SetHarness<string, string>.StartAsync(
            (_, key, _) => ValueTask.FromResult(key),
            o => o.RefreshInterval = TimeSpan.FromMinutes(1),
            o => o.EvictAfterIdle = TimeSpan.FromMinutes(10));
        h.Set.GetOrAdd("read");
        h.Set.GetOrAdd("idle");
        await h.QuiesceAsync();

        for (var minute = 0; minute < 16; minute++)
        {
            h.Set.TryGetValue("read", out _).Should().BeTrue();
            await h.AdvanceAsync(TimeSpan.FromMinutes(1));
        }

        h.Set.Keys.Should().Equal("read");
        h.Set.Count.Should().Be(1);
    }

    [Fact]
    public async Task WithInitialKeys_AndWaitForInitialLoad_HostStartsWithEveryKeyLoaded()
    {
        await using var h = await SetHarness<string, string>.StartAsync(
            async (_, key, _) =>
            {
                await Task.Yield();
                return $"v-{key}";
            },
            o => o.WaitForInitialLoad = true,
            build: b => b.WithInitialKeys((sp, _) => ValueTask.FromResult<IEnumerable<string>>(sp.GetRequiredService<TenantStore>().Tenants)),
            services: s => s.AddSingleton(new TenantStore(["acme", "globex", "initech"])),
            start: false);

        await h.Host.StartAsync().WaitAsync(Guard);

        h.Set.Count.Should().Be(3);
        foreach (var tenant in new[] { "acme", "globex", "initech" })
        {
            h.Set.TryGetValue(tenant, out var value).Should().BeTrue();
            value.Should().Be($"v-{tenant}");
        }
    }

    [Fact]
    public async Task WithInitialKeys_StoreDownAtStart_RetriesAndLoadsTheKeysLater()
    {
        var store = new TenantStore(["acme"]) { Down = true };
        await using var h = await SetHarness<string, string>.StartAsync(
            (_, key, _) => ValueTask.FromResult(key),
            o => o.RetryInitialDelay = TimeSpan.FromSeconds(2),
            build: b => b.WithInitialKeys((sp, _) => sp.GetRequiredService<TenantStore>().ListAsync()),
            services: s => s.AddSingleton(store));

        h.Set.Count.Should().Be(0);
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 1026)
            .Which.Category.Should().Be("BackgroundCache.CacheSet", "the library's category, not the value type's name");
        store.Down = false;
        for (var i = 0; i < 10 && h.Set.Count == 0; i++)
        {
            h.Time.Advance(TimeSpan.FromSeconds(2));
            await store.Listed.WaitAsync(TimeSpan.FromMilliseconds(200)).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        h.Set.Count.Should().Be(1);
        (await h.Set.GetAsync("acme").AsTask().WaitAsync(Guard)).Should().Be("acme");
    }

    [Fact]
    public async Task EachFetch_RunsInItsOwnScope()
    {
        var scopes = new ConcurrentBag<ScopedThing>();
        await using var h = await SetHarness<string, string>.StartAsync(
            (sp, key, _) =>
            {
                scopes.Add(sp.GetRequiredService<ScopedThing>());
                return ValueTask.FromResult(key);
            },
            services: s => s.AddScoped<ScopedThing>());

        await h.Set.GetAsync("a").AsTask().WaitAsync(Guard);
        await h.Set.GetAsync("b").AsTask().WaitAsync(Guard);
        await h.QuiesceAsync();

        scopes.Should().HaveCount(2).And.OnlyHaveUniqueItems().And.OnlyContain(s => s.Disposed);
    }

    [Fact]
    public async Task FetchScope_DisposedWhenTheCallEnds_AbandonedCallKeepsItsScopeUntilItReallyEnds()
    {
        var scopes = new ConcurrentDictionary<string, ScopedThing>();
        var hangStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hang = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var hangEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await SetHarness<string, string>.StartAsync(
            async (sp, key, _) =>
            {
                scopes[key] = sp.GetRequiredService<ScopedThing>();
                await Task.Yield();
                switch (key)
                {
                    case "fails":
                        throw new InvalidOperationException("refused");
                    case "hangs":
                        hangStarted.TrySetResult();
                        try
                        {
                            return await hang.Task; // ignores its token
                        }
                        finally
                        {
                            hangEnded.TrySetResult();
                        }

                    default:
                        return key;
                }
            },
            o =>
            {
                o.FetchTimeout = TimeSpan.FromSeconds(10);
                o.RetryInitialDelay = TimeSpan.FromHours(1);
                o.RetryMaxDelay = TimeSpan.FromHours(1);
            },
            services: s => s.AddScoped<ScopedThing>());

        (await h.Set.GetAsync("ok").AsTask().WaitAsync(Guard)).Should().Be("ok");
        h.Set.GetOrAdd("fails");
        h.Set.GetOrAdd("hangs");
        await hangStarted.Task.WaitAsync(Guard);
        h.Time.Advance(TimeSpan.FromSeconds(11)); // the hanging call's deadline: the attempt abandons it
        await h.QuiesceAsync();

        scopes["ok"].Disposed.Should().BeTrue("an async call's scope is disposed once it has ended");
        scopes["fails"].Disposed.Should().BeTrue("a failed call's scope too");
        scopes["hangs"].Disposed.Should().BeFalse("an abandoned call still runs, with its scoped services");
        h.Set.GetOrAdd("hangs").Status.LastError.Should().BeOfType<TimeoutException>();

        hang.SetResult("late");
        await hangEnded.Task.WaitAsync(Guard);
        using var guard = new CancellationTokenSource(Guard);
        while (!scopes["hangs"].Disposed && !guard.IsCancellationRequested)
        {
            await Task.Yield(); // the call's continuation disposes the scope on the pool, right after it ends
        }

        scopes["hangs"].Disposed.Should().BeTrue("the abandoned call's scope is disposed when the call really ends");
    }

    [Fact]
    public async Task FetchScope_CreatedOnlyWhenTheFetchAsksForAService_KeyedAndRequiredLookupsWork_UnusableAfterTheCall()
    {
        var providers = new ConcurrentDictionary<string, IServiceProvider>();
        var things = new ConcurrentDictionary<string, ScopedThing>();
        await using var h = await SetHarness<string, string>.StartAsync(
            async (sp, key, _) =>
            {
                providers[key] = sp;
                await Task.Yield();
                if (key == "resolves")
                {
                    things[key] = sp.GetRequiredService<ScopedThing>();
                    sp.GetRequiredService<ScopedThing>().Should().BeSameAs(things[key], "one scope per call");
                    sp.GetRequiredKeyedService<ScopedThing>("keyed").Should().NotBeSameAs(things[key]);
                    sp.GetService<IServiceScopeFactory>().Should().NotBeNull();
                }

                return key;
            },
            services: s => s.AddScoped<ScopedThing>().AddKeyedScoped<ScopedThing>("keyed"));

        (await h.Set.GetAsync("resolves").AsTask().WaitAsync(Guard)).Should().Be("resolves");
        (await h.Set.GetAsync("resolves nothing").AsTask().WaitAsync(Guard)).Should().Be("resolves nothing");
        await h.QuiesceAsync();

        ((BackgroundCache.Internal.Engine.LazyServiceScope)providers["resolves nothing"]).WasCreated.Should().BeFalse("a fetch that resolves nothing costs no container scope");
        things["resolves"].Disposed.Should().BeTrue("the scope the fetch asked for is disposed when the call ends");
        providers["resolves"].Invoking(sp => sp.GetService(typeof(ScopedThing))).Should().Throw<ObjectDisposedException>();
        providers["resolves nothing"].Invoking(sp => sp.GetService(typeof(ScopedThing)))
            .Should().Throw<ObjectDisposedException>("a provider kept past its call does not open a scope nobody disposes");
    }

    [Fact]
    public async Task AddTokenCacheSet_KeyedTokenSourceFromDi_ServesATokenPerKey()
    {
        var builder = CacheHarness<AccessToken>.CreateBuilder();
        builder.Services.AddSingleton<TenantTokens>();
        builder.Services.AddTokenCacheSet<string, TenantTokens>("tenants").WithHealthCheck();
        using var host = builder.Build();
        await host.StartAsync();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>("tenants");

        var a = await set.GetAsync("a").AsTask().WaitAsync(Guard);
        var b = await set.GetAsync("b").AsTask().WaitAsync(Guard);

        a.Value.Should().Be("token-for-a");
        b.Value.Should().Be("token-for-b");
        set.GetOrAdd("a").Status.NextRefreshAt.Should().BeOnOrBefore(a.ExpiresAt - TimeSpan.FromMinutes(5));
        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        health.Entries["backgroundcache-set:tenants:AccessToken"].Status.Should().Be(HealthStatus.Healthy);
        health.Entries["backgroundcache-set:tenants:AccessToken"].Data["fresh"].Should().Be(2);
        await host.StopAsync();
    }

    [Fact]
    public async Task HealthCheck_SomeKeysFailing_IsDegradedWithCountsByState()
    {
        await using var h = await SetHarness<string, string>.StartAsync(
            (_, key, _) => key.StartsWith("bad", StringComparison.Ordinal) ? ValueTask.FromException<string>(new InvalidOperationException("no")) : ValueTask.FromResult(key),
            build: b => b.WithHealthCheck());
        foreach (var key in new[] { "a", "b", "bad1" })
        {
            h.Set.GetOrAdd(key);
        }

        await h.QuiesceAsync();
        var report = await CheckHealthAsync(h);

        report.Status.Should().Be(HealthStatus.Degraded);
        report.Data["fresh"].Should().Be(2);
        report.Data["unavailable"].Should().Be(1);
        report.Data["outage"].Should().Be(false);
    }

    [Fact]
    public async Task Metrics_AreTaggedWithTheSetNameAndCountKeys()
    {
        await using var h = await SetHarness<string, string>.StartAsync((_, key, _) => ValueTask.FromResult(key), start: false);
        var meterFactory = h.Host.Services.GetRequiredService<IMeterFactory>();
        using var attempts = new MetricCollector<long>(meterFactory, BackgroundCacheDiagnostics.MeterName, "backgroundcache.refresh.attempts");
        using var keys = new MetricCollector<int>(meterFactory, BackgroundCacheDiagnostics.MeterName, "backgroundcache.set.keys");
        await h.Host.StartAsync();
        h.Set.GetOrAdd("a");
        h.Set.GetOrAdd("b");
        await h.QuiesceAsync();

        keys.RecordObservableInstruments();

        attempts.GetMeasurementSnapshot().Should().HaveCount(2).And.OnlyContain(m => (string?)m.Tags[BackgroundCacheDiagnostics.CacheNameTag] == "set");
        keys.LastMeasurement!.Value.Should().Be(2);
        keys.LastMeasurement.Tags[BackgroundCacheDiagnostics.CacheNameTag].Should().Be("set");
    }

    [Fact]
    public async Task InvalidSetOptions_FailStartNamingTheSetting()
    {
        var builder = CacheHarness<string>.CreateBuilder();
        builder.Services.AddRefreshingCacheSet<string, string>("tenants", (_, k, _) => ValueTask.FromResult(k), o => o.MaxConcurrentFetches = 0);
        using var host = builder.Build();

        var act = () => host.StartAsync();

        (await act.Should().ThrowAsync<OptionsValidationException>()).Which.Message.Should().Contain("MaxConcurrentFetches").And.Contain("'tenants'");
    }

    [Fact]
    public void AddRefreshingCacheSet_SameSetTwice_FailsNamingIt()
    {
        var services = new ServiceCollection();
        services.AddRefreshingCacheSet<string, string>("tenants", (_, k, _) => ValueTask.FromResult(k));

        var act = () => services.AddRefreshingCacheSet<string, string>("tenants", (_, k, _) => ValueTask.FromResult(k));

        act.Should().Throw<InvalidOperationException>().WithMessage("*'tenants'*already registered*");
    }

    [Fact]
    public async Task ManySingleCachesWithWaitForInitialLoad_StartTogether()
    {
        const int caches = 20;
        var started = 0;
        var allStarted = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = CacheHarness<string>.CreateBuilder();
        for (var i = 0; i < caches; i++)
        {
            builder.Services.AddRefreshingCache<string>($"c{i}", async (_, _) =>
            {
                if (Interlocked.Increment(ref started) == caches)
                {
                    allStarted.TrySetResult("loaded");
                }

                return await allStarted.Task; // one after another, the first would wait for the last forever
            }, o => o.WaitForInitialLoad = true);
        }

        using var host = builder.Build();

        await host.StartAsync().WaitAsync(Guard);

        started.Should().Be(caches);
        for (var i = 0; i < caches; i++)
        {
            host.Services.GetRequiredKeyedService<IRefreshingCache<string>>($"c{i}").TryGetValue(out var v).Should().BeTrue();
            v.Should().Be("loaded");
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task TenThousandKeys_OneTimerAndLoadedWithinTheBudget()
    {
        var time = new CountingTimeProvider();
        int inFlight = 0, maxInFlight = 0;
        var builder = CacheHarness<string>.CreateBuilder(time);
        builder.Services.AddRefreshingCacheSet<int, string>("many", async (_, key, _) =>
        {
            InterlockedMax(ref maxInFlight, Interlocked.Increment(ref inFlight));
            await Task.Yield();
            Interlocked.Decrement(ref inFlight);
            return "shared-value";
        }, o => o.MaxConcurrentFetches = 16);
        using var host = builder.Build();
        await host.StartAsync();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<int, string>>("many");
        var engine = host.Services.GetRequiredKeyedService<BackgroundCache.Internal.Engine.RefreshingCacheSet<int, string>>("many");

        for (var i = 0; i < 10_000; i++)
        {
            set.GetOrAdd(i);
        }

        await engine.WhenQuiescentAsync().WaitAsync(Guard);

        set.Count.Should().Be(10_000);
        Enumerable.Range(0, 10_000).All(i => set.TryGetValue(i, out _)).Should().BeTrue();
        maxInFlight.Should().BeLessThanOrEqualTo(16);
        time.LiveTimers.Should().Be(1, "one scheduler timer for the whole set (fetch timeouts exist only while a fetch runs)");
        await host.StopAsync();
    }

    [Fact]
    public async Task KeyedReads_OfLoadedValues_AllocateNothing()
    {
        await using var h = await SetHarness<string, string>.StartAsync((_, key, _) => ValueTask.FromResult(key));
        var keys = Enumerable.Range(0, 100).Select(i => $"tenant-{i:D4}").ToArray();
        foreach (var key in keys)
        {
            await h.Set.GetAsync(key).AsTask().WaitAsync(Guard);
        }

        ReadMany(h.Set, keys); // warm up
        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = ReadMany(h.Set, keys);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        found.Should().Be(20_000);
        allocated.Should().Be(0);
    }

    private static int ReadMany(IRefreshingCacheSet<string, string> set, string[] keys)
    {
        var found = 0;
        for (var i = 0; i < 10_000; i++)
        {
            var key = keys[i % keys.Length];
            if (set.TryGetValue(key, out var v) && v.Length > 0)
            {
                found++;
            }

            var pending = set.GetAsync(key);
            if (pending.IsCompletedSuccessfully && pending.Result.Length > 0)
            {
                found++;
            }
        }

        return found;
    }

    private static Task<HealthCheckResult> CheckHealthAsync<TKey, T>(SetHarness<TKey, T> h)
        where TKey : notnull
    {
        var check = new BackgroundCache.Internal.RefreshingCacheSetHealthCheck<TKey, T>(h.Engine);
        return check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("set", check, HealthStatus.Unhealthy, null) });
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private sealed class FakeTimeProviderHolder(Microsoft.Extensions.Time.Testing.FakeTimeProvider time)
    {
        public DateTimeOffset Now() => time.GetUtcNow();
    }

    private sealed class TenantStore(string[] tenants)
    {
        private TaskCompletionSource _listed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string[] Tenants { get; } = tenants;

        public bool Down { get; set; }

        public Task Listed => _listed.Task;

        public ValueTask<IEnumerable<string>> ListAsync()
        {
            if (Down)
            {
                return ValueTask.FromException<IEnumerable<string>>(new InvalidOperationException("store down"));
            }

            _listed.TrySetResult();
            _listed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            return ValueTask.FromResult<IEnumerable<string>>(Tenants);
        }
    }

    private sealed class ScopedThing : IDisposable
    {
        private volatile bool _disposed;

        public bool Disposed => _disposed;

        public void Dispose() => _disposed = true;
    }

    private sealed class TenantTokens(TimeProvider time) : IKeyedTokenSource<string>
    {
        public ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AccessToken($"token-for-{key}", time.GetUtcNow().AddHours(2)));
    }

    /// <summary>A fake clock that counts its live timers.</summary>
    private sealed class CountingTimeProvider : Microsoft.Extensions.Time.Testing.FakeTimeProvider
    {
        private int _live;

        public int LiveTimers => Volatile.Read(ref _live);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _live);
            return new CountedTimer(base.CreateTimer(callback, state, dueTime, period), this);
        }

        private sealed class CountedTimer(ITimer inner, CountingTimeProvider owner) : ITimer
        {
            private int _disposed;

            public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _disposed, 1) == 0)
                {
                    Interlocked.Decrement(ref owner._live);
                }

                inner.Dispose();
            }

            public ValueTask DisposeAsync()
            {
                Dispose();
                return ValueTask.CompletedTask;
            }
        }
    }
}
