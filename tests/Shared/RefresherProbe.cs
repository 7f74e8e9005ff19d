using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Tests.Shared;

/// <summary>
/// Drives one refresher with a <see cref="FakeTimeProvider"/>: tells when its loop waits (its timer exists), so tests
/// advance time only when something is there to fire. Shared by the test projects (linked source).
/// </summary>
internal sealed class RefresherProbe<T> : IDisposable
{
    // A guard against a hung test, never a wait for the refresher: every wait below ends on a signal.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private readonly SemaphoreSlim _idle = new(0);
    private readonly PeriodicCacheRefresher<T> _refresher;
    private readonly FakeTimeProvider _time;

    public RefresherProbe(PeriodicCacheRefresher<T> refresher, FakeTimeProvider time)
    {
        _refresher = refresher;
        _time = time;
        refresher.OnIdle = () => _idle.Release();
    }

    /// <summary>Waits until the loop waits for its next due time (after an attempt, or at start).</summary>
    public async Task WaitIdleAsync()
    {
        if (!await _idle.WaitAsync(Guard))
        {
            throw new TimeoutException("The refresher never reached its wait.");
        }
    }

    /// <summary>Advances the clock to the next scheduled refresh and waits until the loop waits again.</summary>
    public async Task<TimeSpan> AdvanceToNextRefreshAsync()
    {
        var next = _refresher.Status.NextRefreshAt ?? throw new InvalidOperationException("No refresh is scheduled.");
        var step = next - _time.GetUtcNow();
        _time.Advance(step);
        await WaitIdleAsync();
        return step;
    }

    /// <summary>Advances the clock by <paramref name="step"/>, letting every refresh due on the way run to completion.</summary>
    public async Task AdvanceAsync(TimeSpan step)
    {
        var target = _time.GetUtcNow() + step;
        while (_refresher.Status.NextRefreshAt is { } next && next <= target)
        {
            _time.Advance(next - _time.GetUtcNow());
            await WaitIdleAsync();
        }

        _time.Advance(target - _time.GetUtcNow());
    }

    public void Dispose() => _idle.Dispose();
}
