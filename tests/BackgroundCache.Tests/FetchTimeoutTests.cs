namespace BackgroundCache.Tests;

public sealed class FetchTimeoutTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FetchIgnoringCancellation_AfterFetchTimeout_NextAttemptWaitsForItAndItsOutcomeIsLogged()
    {
        var hung = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inFlight = 0, maxInFlight = 0;
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        upstream.Started += _ =>
        {
            var now = Interlocked.Increment(ref inFlight);
            if (now > Volatile.Read(ref maxInFlight))
            {
                Volatile.Write(ref maxInFlight, now);
            }
        };
        await using var h = await CacheHarness<string>.StartAsync(
            async (sp, ct) =>
            {
                try
                {
                    return await upstream.FetchAsync(sp, ct);
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }
            },
            o =>
            {
                o.RefreshInterval = TimeSpan.FromMinutes(5);
                o.FetchTimeout = TimeSpan.FromSeconds(10);
                o.RetryInitialDelay = TimeSpan.FromSeconds(1);
            });
        await h.WaitIdleAsync();
        upstream.ThenOnce(_ => { started.TrySetResult(); return hung.Task; }); // ignores its token

        h.Time.Advance(TimeSpan.FromMinutes(5));
        await started.Task.WaitAsync(Guard);
        h.Time.Advance(TimeSpan.FromSeconds(10));
        await h.WaitIdleAsync();
        h.Cache.Status.LastError.Should().BeOfType<TimeoutException>();
        h.Time.Advance(h.Cache.Status.NextRefreshAt!.Value - h.Time.GetUtcNow()); // the retry comes due while the call still runs
        upstream.Calls.Should().Be(2);
        hung.SetResult("late");                                                   // the abandoned call ends: its result is discarded
        await h.WaitIdleAsync();

        maxInFlight.Should().Be(1, "at most one fetch per cache is ever in flight");
        upstream.Calls.Should().Be(3);
        (await h.Cache.GetAsync()).Should().Be("v3");
        h.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 1013 && r.Message.Contains("discarded", StringComparison.Ordinal));
    }
}
