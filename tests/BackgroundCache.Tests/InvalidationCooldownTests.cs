namespace BackgroundCache.Tests;

/// <summary>
/// A value that the upstream returned for a report moments ago is not fetched again for every further report (issue #11,
/// item 7). The upstream here answers like WeChat's stable_token: the same value every time.
/// </summary>
public sealed class InvalidationCooldownTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task InvalidateAsync_ValueConfirmedForAReportMomentsAgo_DoesNotFetchAgainUntilTheCooldownPassed()
    {
        var upstream = new FakeUpstream<string>(_ => "stable");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();

        (await h.Cache.InvalidateAsync("stable").WaitAsync(Guard)).Should().Be("stable");
        upstream.Calls.Should().Be(2, "the first report asks the upstream");
        for (var i = 0; i < 5; i++)
        {
            (await h.Cache.InvalidateAsync("stable").WaitAsync(Guard)).Should().Be("stable");
            h.Cache.Invalidate("stable");
        }

        await h.WaitIdleAsync();
        upstream.Calls.Should().Be(2, "the upstream confirmed the value moments ago");

        h.Time.Advance(TimeSpan.FromSeconds(30));
        (await h.Cache.InvalidateAsync("stable").WaitAsync(Guard)).Should().Be("stable");
        upstream.Calls.Should().Be(3, "past InvalidationCooldown a report asks again");
    }

    [Fact]
    public async Task InvalidateAsync_UpstreamConfirmsTheSameValue_KeepsTheVersionAndMovesTheFetchTime()
    {
        var upstream = new FakeUpstream<string>(_ => "stable");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();
        var loaded = h.Cache.Status;
        h.Time.Advance(TimeSpan.FromMinutes(1));

        (await h.Cache.InvalidateAsync("stable").WaitAsync(Guard)).Should().Be("stable");

        upstream.Calls.Should().Be(2);
        h.Cache.Status.Version.Should().Be(loaded.Version, "the upstream answered the same value");
        h.Cache.Status.LastRefreshedAt.Should().Be(loaded.LastRefreshedAt!.Value.AddMinutes(1));
    }

    [Fact]
    public async Task RefreshAsync_UpstreamReturnsANewValue_MovesTheVersion()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();

        await h.Cache.RefreshAsync().WaitAsync(Guard);

        h.Cache.Status.Version.Should().Be(2);
    }

    [Fact]
    public async Task RefreshAsync_WithinTheCooldown_IsNeverHeldBack()
    {
        var upstream = new FakeUpstream<string>(_ => "stable");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();
        await h.Cache.InvalidateAsync("stable").WaitAsync(Guard);

        await h.Cache.RefreshAsync().WaitAsync(Guard);

        upstream.Calls.Should().Be(3);
    }

    [Fact]
    public async Task InvalidateAsync_FirstReportAfterAScheduledLoad_FetchesAtOnce()
    {
        var upstream = new FakeUpstream<string>(n => $"v{n}");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o => o.RefreshInterval = TimeSpan.FromHours(1));
        await h.WaitIdleAsync();

        var replacement = await h.Cache.InvalidateAsync("v1").WaitAsync(Guard);

        replacement.Should().Be("v2", "only a value that answered a report is protected, not one loaded on schedule");
    }

    [Fact]
    public async Task InvalidateAsync_CooldownZero_EveryReportFetches()
    {
        var upstream = new FakeUpstream<string>(_ => "stable");
        await using var h = await CacheHarness<string>.StartAsync(upstream.FetchAsync, o =>
        {
            o.RefreshInterval = TimeSpan.FromHours(1);
            o.InvalidationCooldown = TimeSpan.Zero;
        });
        await h.WaitIdleAsync();

        for (var i = 0; i < 3; i++)
        {
            await h.Cache.InvalidateAsync("stable").WaitAsync(Guard);
        }

        upstream.Calls.Should().Be(4);
    }
}
