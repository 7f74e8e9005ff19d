using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using BackgroundCache.Internal.Engine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Sets;

/// <summary>
/// Keys that come and go (issue #21): a removed or evicted key gives its memory back at once, not at its next scheduled
/// wake, and remove/re-add cycles do not grow the scheduler.
/// </summary>
public sealed class SetChurnTests
{
    [Fact]
    public async Task RemoveAsync_LoadedKey_ReleasesItsValueAtOnce()
    {
        await using var h = await SetHarness<string, Value>.StartAsync(
            (_, key, _) => ValueTask.FromResult(new Value(key)),
            o => o.RefreshInterval = TimeSpan.FromHours(2));
        var value = await LoadAsync(h, "tenant-a");

        (await h.Set.RemoveAsync("tenant-a")).Should().BeTrue();

        (await CollectedAsync(value)).Should().BeTrue("nothing holds a removed key's entry, snapshot or value until its next wake");
        h.Engine.Scheduler.QueuedCount.Should().Be(0);
    }

    [Fact]
    public async Task EvictAfterIdle_EvictedKey_ReleasesItsValueAtOnce()
    {
        await using var h = await SetHarness<string, Value>.StartAsync(
            (_, key, _) => ValueTask.FromResult(new Value(key)),
            o => o.RefreshInterval = TimeSpan.FromHours(2),
            o => o.EvictAfterIdle = TimeSpan.FromMinutes(10));
        var value = await LoadAsync(h, "idle");

        await h.AdvanceAsync(TimeSpan.FromMinutes(16));

        h.Set.Count.Should().Be(0);
        (await CollectedAsync(value)).Should().BeTrue();
        h.Engine.Scheduler.QueuedCount.Should().Be(1, "only the sweep stays scheduled");
    }

    [Fact]
    public async Task RemoveAsync_EveryKeyOfAThousand_TheDictionarySizedForThePeakIsReleased()
    {
        await using var h = await SetHarness<string, Value>.StartAsync(
            (_, key, _) => ValueTask.FromResult(new Value(key)),
            o => o.RefreshInterval = TimeSpan.FromHours(2));
        var keys = Enumerable.Range(0, 1_000).Select(i => $"k{i}").ToArray();
        foreach (var key in keys)
        {
            h.Set.GetOrAdd(key);
        }

        await h.QuiesceAsync();
        var peak = WeakDictionary(h.Engine);

        for (var i = 0; i < keys.Length; i++)
        {
            (await h.Set.RemoveAsync(keys[i])).Should().BeTrue();

            // Every key not yet removed is still read while the table copies itself smaller.
            if (i % 97 == 0)
            {
                keys.Skip(i + 1).Where(k => !h.Set.TryGetValue(k, out var _)).Should().BeEmpty();
            }
        }

        h.Set.Count.Should().Be(0);
        h.Engine.KeyTableShrinks.Should().Be(2, "1,000 keys down to none: a copy below 250 keys, one below 62, none below a peak of 64");
        (await CollectedAsync(peak)).Should().BeTrue("the bucket and lock arrays sized for 1,000 keys are not kept for none");

        // The set works on: a key added after the shrinks is loaded and read.
        await h.Set.GetAsync("again");
        h.Set.TryGetValue("again", out var again).Should().BeTrue();
        again!.Key.Should().Be("again");
    }

    [Fact]
    public async Task KeyTable_AddsAndRemovesFromFourThreadsWhileItShrinks_LosesNoKey()
    {
        var table = new KeyTable<int, object>();
        var kept = new System.Collections.Concurrent.ConcurrentDictionary<int, object>();

        // Four threads add 500 keys each, then all remove together (a barrier between the phases), so every round's
        // removals run while the table copies itself smaller: from ~2,000 keys to the few kept, below a quarter of the peak.
        using var phases = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(t => Task.Factory.StartNew(
            () =>
            {
                for (var round = 0; round < 10; round++)
                {
                    var keys = Enumerable.Range(0, 500).Select(i => (t * 1_000_000) + (round * 1_000) + i).ToArray();
                    foreach (var key in keys)
                    {
                        var value = new object();
                        table.GetOrAdd(key, value).Should().BeSameAs(value);
                    }

                    phases.SignalAndWait();

                    // Keep one key in fifty; remove the rest, some by key and value.
                    foreach (var key in keys)
                    {
                        if (key % 50 == 0)
                        {
                            table.TryGetValue(key, out var value).Should().BeTrue();
                            kept[key] = value!;
                        }
                        else if (key % 2 == 0)
                        {
                            table.TryRemove(key, out _, out _).Should().BeTrue();
                        }
                        else
                        {
                            table.TryGetValue(key, out var value).Should().BeTrue();
                            table.TryRemove(key, value!, out _).Should().BeTrue();
                        }
                    }

                    phases.SignalAndWait();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning, // blocking at the barrier: a thread each, not pool threads
            TaskScheduler.Default)).ToArray();
        await Task.WhenAll(threads).WaitAsync(TimeSpan.FromSeconds(60));

        table.Shrinks.Should().BeGreaterThanOrEqualTo(10, "every round went from ~2,000 keys to under a quarter of that");
        table.Count.Should().Be(kept.Count);
        table.Keys.Should().BeEquivalentTo(kept.Keys);
        foreach (var (key, value) in kept)
        {
            table.TryGetValue(key, out var held).Should().BeTrue();
            held.Should().BeSameAs(value);
        }
    }

    [Fact]
    public async Task Refreshes_AQuietAttemptsTokenSourceIsReused_OneCancelledByFetchTimeoutNeverIs()
    {
        var tokens = new List<CancellationToken>();
        var hanging = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await SetHarness<string, Value>.StartAsync(
            async (_, key, ct) =>
            {
                int call;
                lock (tokens)
                {
                    tokens.Add(ct);
                    call = tokens.Count;
                }

                if (call == 3)
                {
                    hanging.TrySetResult();
                    await Task.Delay(Timeout.Infinite, ct); // ends only when FetchTimeout cancels the attempt's token
                }

                return new Value($"{key}#{call}");
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(5);
                o.FetchTimeout = TimeSpan.FromSeconds(30);
                o.RetryInitialDelay = TimeSpan.FromSeconds(10);
            });
        await h.Set.GetAsync("k");
        await h.AdvanceAsync(TimeSpan.FromMinutes(5)); // call 2: a quiet refresh

        h.Time.Advance(TimeSpan.FromMinutes(5)); // call 3 hangs until its deadline
        await hanging.Task.WaitAsync(TimeSpan.FromSeconds(30));
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await h.QuiesceAsync();
        await h.AdvanceAsync(TimeSpan.FromSeconds(10)); // call 4: the retry

        tokens.Should().HaveCount(4);
        tokens[2].IsCancellationRequested.Should().BeTrue("FetchTimeout cancelled the third attempt");
        tokens[3].IsCancellationRequested.Should().BeFalse("a source cancelled by a deadline is never handed to a later attempt");
        tokens[3].Should().NotBe(tokens[2]);
        h.Set.TryGetValue("k", out var value).Should().BeTrue();
        value!.Key.Should().Be("k#4");
        var coreTarget = typeof(RefreshingCacheSet<,>).Assembly.GetCustomAttribute<System.Runtime.Versioning.TargetFrameworkAttribute>()!.FrameworkName;
        if (coreTarget.StartsWith(".NETCoreApp", StringComparison.Ordinal))
        {
            tokens[1].Should().Be(tokens[0], "a quiet attempt's source is reset and kept for the next one (issue #21)");
        }
        else
        {
            tokens[1].Should().NotBe(tokens[0], "netstandard2.0 has no CancellationTokenSource.TryReset: a source per attempt");
        }
    }

    [Fact]
    public async Task Refreshes_PendingFetches_AreAwaitedByTheReusedSource_AFetchThatOutlivesItsDeadlineResumesNothing()
    {
        // Every call is pending until the test ends it: the attempt waits through its token source, not an async state
        // machine (issue #21). Call 3 ignores its token and outlives FetchTimeout; it ends later, and must change nothing.
        var tokens = new List<CancellationToken>();
        var started = new List<TaskCompletionSource>();
        var gates = new List<TaskCompletionSource<bool>>();
        for (var i = 0; i < 4; i++)
        {
            started.Add(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            gates.Add(new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        await using var h = await SetHarness<string, Value>.StartAsync(
            async (_, key, ct) =>
            {
                int call;
                lock (tokens)
                {
                    tokens.Add(ct);
                    call = tokens.Count;
                }

                started[call - 1].TrySetResult();
                var fail = await gates[call - 1].Task; // ignores its token
                return fail ? throw new InvalidOperationException($"call {call} failed") : new Value($"{key}#{call}");
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(5);
                o.FetchTimeout = TimeSpan.FromSeconds(30);
                o.RetryInitialDelay = TimeSpan.FromSeconds(10);
            });

        var first = h.Set.GetAsync("k").AsTask();
        await started[0].Task.WaitAsync(TimeSpan.FromSeconds(30));
        gates[0].SetResult(false);
        (await first.WaitAsync(TimeSpan.FromSeconds(30))).Key.Should().Be("k#1");
        await h.QuiesceAsync();

        h.Time.Advance(TimeSpan.FromMinutes(5)); // call 2: pending, then ends
        await started[1].Task.WaitAsync(TimeSpan.FromSeconds(30));
        gates[1].SetResult(false);
        await h.QuiesceAsync();
        h.Set.TryGetValue("k", out var second).Should().BeTrue();
        second!.Key.Should().Be("k#2");

        h.Time.Advance(TimeSpan.FromMinutes(5)); // call 3: pending past its deadline
        await started[2].Task.WaitAsync(TimeSpan.FromSeconds(30));
        h.Time.Advance(TimeSpan.FromSeconds(30));
        await h.QuiesceAsync();
        h.Set.GetOrAdd("k").Status.LastError.Should().BeOfType<TimeoutException>();

        // The retry (call 4) waits for the abandoned call, which ends late: its value is discarded, and it resumes nothing.
        h.Time.Advance(TimeSpan.FromSeconds(10));
        gates[2].SetResult(false);
        await started[3].Task.WaitAsync(TimeSpan.FromSeconds(30));
        h.Logs.GetSnapshot().Should().Contain(r => r.Message.Contains("its result was discarded", StringComparison.Ordinal));
        h.Set.TryGetValue("k", out var stillSecond).Should().BeTrue();
        stillSecond!.Key.Should().Be("k#2");
        gates[3].SetResult(true); // call 4 fails
        await h.QuiesceAsync();
        h.Set.GetOrAdd("k").Status.LastError.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("call 4 failed");
        h.Set.TryGetValue("k", out var served).Should().BeTrue();
        served!.Key.Should().Be("k#2", "a failed refresh keeps the last good value");

        tokens.Should().HaveCount(4);
        tokens[2].IsCancellationRequested.Should().BeTrue("FetchTimeout cancelled the third attempt");
        tokens[3].IsCancellationRequested.Should().BeFalse();
        tokens[3].Should().NotBe(tokens[2], "a source outlived by its fetch is never handed to a later attempt");
        var coreTarget = typeof(RefreshingCacheSet<,>).Assembly.GetCustomAttribute<System.Runtime.Versioning.TargetFrameworkAttribute>()!.FrameworkName;
        if (coreTarget.StartsWith(".NETCoreApp", StringComparison.Ordinal))
        {
            tokens[1].Should().Be(tokens[0], "a source whose pending fetch ended is reset and kept for the next attempt");
        }
    }

    [Fact]
    public async Task Refresh_PendingFetch_RunsUnderTheRefreshActivity_WhichEndsWithTheOutcomeWhenTheFetchResumesTheAttempt()
    {
        // The attempt is not an async method any more (issue #21): the activity it starts must still be the parent of a
        // fetch that goes pending, and end with the outcome when the fetch resumes the attempt on another thread.
        var name = $"traced-{Guid.NewGuid():N}";
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == BackgroundCacheDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem(BackgroundCacheDiagnostics.CacheNameTag), name))
                {
                    lock (stopped)
                    {
                        stopped.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var seenByFetch = new List<Activity?>();
        var fetching = new[] { NewSignal(), NewSignal() };
        var gates = new[] { new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously), new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var h = await SetHarness<string, Value>.StartAsync(
            async (_, key, _) =>
            {
                int call;
                lock (seenByFetch)
                {
                    seenByFetch.Add(Activity.Current);
                    call = seenByFetch.Count - 1;
                }

                fetching[call].TrySetResult();
                return await gates[call].Task ? throw new InvalidOperationException("refused") : new Value(key);
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(5);
                o.RetryInitialDelay = TimeSpan.FromMinutes(1);
            },
            name: name);

        var load = h.Set.GetAsync("k").AsTask();
        await fetching[0].Task.WaitAsync(TimeSpan.FromSeconds(30));
        gates[0].SetResult(false);
        (await load.WaitAsync(TimeSpan.FromSeconds(30))).Key.Should().Be("k");
        await h.QuiesceAsync();

        h.Time.Advance(TimeSpan.FromMinutes(5)); // the scheduled refresh: pending, then fails
        await fetching[1].Task.WaitAsync(TimeSpan.FromSeconds(30));
        gates[1].SetResult(true);
        await h.QuiesceAsync();

        lock (seenByFetch)
        {
            seenByFetch.Should().HaveCount(2);
            seenByFetch.Should().OnlyContain(a => a != null && a.OperationName == "BackgroundCache.Refresh", "the fetch runs under the refresh's activity");
        }

        lock (stopped)
        {
            stopped.Select(a => a.GetTagItem(BackgroundCacheDiagnostics.OutcomeTag)).Should().Equal("success", "failure");
            stopped[1].Status.Should().Be(ActivityStatusCode.Error);
            stopped.Should().Equal(seenByFetch.Select(a => a!), "each fetch's activity is the one that ended with its outcome");
        }

        static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Fact]
    public async Task KeyedRead_ReferenceValues_NullIsAValueAndANewValueReplacesTheOld()
    {
        var round = 0;
        await using var h = await SetHarness<string, Value?>.StartAsync(
            (_, key, _) => ValueTask.FromResult(key == "none" ? null : new Value($"{key}#{Volatile.Read(ref round)}")),
            o => o.RefreshInterval = TimeSpan.FromMinutes(5));
        await h.Set.GetAsync("none");
        await h.Set.GetAsync("some");

        // A reference value is read from the entry, not its snapshot; null falls through to the snapshot and is a value.
        h.Set.TryGetValue("none", out var none).Should().BeTrue();
        none.Should().BeNull();
        (await h.Set.GetAsync("none")).Should().BeNull();
        h.Set.TryGetValue("some", out var some).Should().BeTrue();
        some!.Key.Should().Be("some#0");

        Interlocked.Increment(ref round);
        await h.AdvanceAsync(TimeSpan.FromMinutes(5));

        h.Set.TryGetValue("some", out some).Should().BeTrue();
        some!.Key.Should().Be("some#1");
        (await h.Set.GetAsync("some"))!.Key.Should().Be("some#1");
        h.Engine.Find("some")!.Current!.Value!.Key.Should().Be("some#1", "the entry's value and its snapshot agree");
    }

    [Fact]
    public async Task RemoveAndReAdd_HundredCycles_SchedulerHoldsOneWakePerKey()
    {
        await using var h = await SetHarness<string, Value>.StartAsync(
            (_, key, _) => ValueTask.FromResult(new Value(key)),
            o => o.RefreshInterval = TimeSpan.FromHours(2));
        var keys = Enumerable.Range(0, 100).Select(i => $"k{i}").ToArray();

        for (var cycle = 0; cycle < 100; cycle++)
        {
            foreach (var key in keys)
            {
                await h.Set.GetAsync(key);
            }

            await h.QuiesceAsync();
            h.Engine.Scheduler.QueuedCount.Should().Be(keys.Length);
            foreach (var key in keys)
            {
                await h.Set.RemoveAsync(key);
            }

            h.Engine.Scheduler.QueuedCount.Should().Be(0);
        }
    }

    [Fact]
    public async Task Load_TwoHundredKeysQueuedBehindTheBudget_LeaveNoRegistrationOnTheStopToken()
    {
        await using var h = await SetHarness<string, Value>.StartAsync(
            async (_, key, _) =>
            {
                await Task.Yield();
                return new Value(key);
            },
            configureSet: o => o.MaxConcurrentFetches = 1);
        var keys = Enumerable.Range(0, 200).Select(i => $"k{i}").ToArray();

        foreach (var key in keys)
        {
            h.Set.GetOrAdd(key);
        }

        await h.QuiesceAsync();

        keys.Where(k => !h.Set.TryGetValue(k, out var _)).Should().BeEmpty();
        StopTokenCallbackNodes(h.Engine).Should().Be(0, "a registration on the set's stop token stays in its free list for the set's life");
    }

    [Fact]
    public async Task FetchTimeout_HundredLoadsAndRefreshes_CreateNoTimerBeyondTheSetsOne()
    {
        var fake = new FakeTimeProvider();
        var time = new TimerCountingTimeProvider(fake);
        var builder = CacheHarness<Value>.CreateBuilder();
        builder.Services.AddSingleton<TimeProvider>(time);
        var fetches = 0;
        builder.Services.AddRefreshingCacheSet<string, Value>("set", async (_, key, _) =>
        {
            await Task.Yield();

            // A new value on every fetch: an equal value keeps its version.
            return new Value($"{key}#{Interlocked.Increment(ref fetches)}");
        });
        builder.Services.Configure<RefreshingCacheOptions>("set", o =>
        {
            o.Jitter = TimeSpan.Zero;
            o.RefreshInterval = TimeSpan.FromMinutes(5);
            o.FetchTimeout = TimeSpan.FromSeconds(30);
        });
        using var host = builder.Build();
        var set = host.Services.GetRequiredKeyedService<RefreshingCacheSet<string, Value>>("set");
        await host.StartAsync();

        foreach (var key in Enumerable.Range(0, 100).Select(i => $"k{i}"))
        {
            set.GetOrAdd(key);
        }

        await set.WhenQuiescentAsync();
        var until = fake.GetUtcNow() + TimeSpan.FromMinutes(6);
        while (set.Scheduler.NextDue is { } next && next <= until)
        {
            fake.Advance(next - fake.GetUtcNow());
            await set.WhenQuiescentAsync();
        }

        set.Entries.Should().OnlyContain(e => e.Current != null && e.Current.Version == 2, "every key loaded and refreshed once");
        time.Created.Should().Be(1, "FetchTimeout is a due time in the set's scheduler, not a timer per attempt");
        await host.StopAsync();
    }

    [Fact]
    public void DueTimeHeap_RandomSetsAndRemoves_AlwaysYieldsTheEarliest()
    {
        var random = new Random(21);
        var heap = new DueTimeHeap();
        var items = Enumerable.Range(0, 200).Select(_ => new Item()).ToArray();
        var expected = new Dictionary<Item, long>();

        for (var step = 0; step < 20_000; step++)
        {
            var item = items[random.Next(items.Length)];
            switch (random.Next(4))
            {
                case 0:
                    heap.Remove(item).Should().Be(expected.Remove(item));
                    break;
                case 1 when heap.Count > 0:
                    heap.TryPeek(out _, out var earliest).Should().BeTrue();
                    earliest.Should().Be(expected.Values.Min());
                    var taken = (Item)heap.Dequeue();
                    expected[taken].Should().Be(earliest);
                    expected.Remove(taken);
                    break;
                default:
                    var ticks = random.Next(1_000);
                    heap.Set(item, ticks);
                    expected[item] = ticks;
                    break;
            }

            heap.Count.Should().Be(expected.Count);
            (item.HeapIndex >= 0).Should().Be(expected.ContainsKey(item));
        }

        var drained = new List<long>();
        while (heap.TryPeek(out _, out var ticks))
        {
            drained.Add(ticks);
            heap.Dequeue();
        }

        drained.Should().BeInAscendingOrder().And.HaveCount(expected.Count);
        items.Should().OnlyContain(i => i.HeapIndex == -1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference WeakDictionary(RefreshingCacheSet<string, Value> set) => new(set.KeyDictionary);

    /// <summary>Loads a key and returns a weak reference to its value; the value never crosses an await of the test.</summary>
    private static async Task<WeakReference> LoadAsync(SetHarness<string, Value> h, string key)
    {
        h.Set.GetOrAdd(key);
        await h.QuiesceAsync();
        return Weak(h, key);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference Weak(SetHarness<string, Value> h, string key)
    {
        h.Set.TryGetValue(key, out var value).Should().BeTrue();
        return new WeakReference(value);
    }

    /// <summary>
    /// Full collections until the value is gone, at most ten: the pool thread that ran the key's last attempt may still be
    /// unwinding the frames that held the value when the test resumes (the attempt signals its end just before it returns).
    /// </summary>
    private static async Task<bool> CollectedAsync(WeakReference value)
    {
        for (var round = 0; round < 10 && value.IsAlive; round++)
        {
            await Task.Yield();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        return !value.IsAlive;
    }

    /// <summary>
    /// Callback nodes (live or kept for reuse) of the engine's stop token source. Runtime internals (.NET 10: a
    /// <c>_registrations</c> object with <c>Callbacks</c> and <c>FreeNodeList</c> chains); a changed layout fails loudly.
    /// </summary>
    private static int StopTokenCallbackNodes(object engine)
    {
        var source = (CancellationTokenSource)typeof(CacheEngine<Value>).GetField("_stopping", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(engine)!;
        var registrationsField = typeof(CancellationTokenSource).GetField("_registrations", BindingFlags.NonPublic | BindingFlags.Instance);
        registrationsField.Should().NotBeNull("the test reads the runtime's CancellationTokenSource layout");
        var registrations = registrationsField!.GetValue(source);
        if (registrations is null)
        {
            return 0;
        }

        var type = registrations.GetType();
        return Count(type.GetField("Callbacks")!.GetValue(registrations)) + Count(type.GetField("FreeNodeList")!.GetValue(registrations));

        static int Count(object? node)
        {
            var count = 0;
            while (node is not null)
            {
                count++;
                node = node.GetType().GetField("Next")!.GetValue(node);
            }

            return count;
        }
    }

    private sealed class Item : DueTimeHeapItem;

    private sealed class TimerCountingTimeProvider(FakeTimeProvider inner) : TimeProvider
    {
        private int _created;

        public int Created => Volatile.Read(ref _created);

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref _created);
            return inner.CreateTimer(callback, state, dueTime, period);
        }
    }

    public sealed record Value(string Key);
}
