using System.Globalization;
using System.Reflection;
using System.Runtime.Versioning;
using Microsoft.Extensions.Time.Testing;
using Poly = BackgroundCache.Polyfills;

namespace BackgroundCache.Tests;

/// <summary>
/// Runs only in BackgroundCache.Tests.NetStandard: checks that this suite really exercises the netstandard2.0 build, and
/// that the stand-ins for .NET 10 APIs (src/Shared/Polyfills) behave as their .NET 10 namesakes, compared side by side.
/// </summary>
public sealed class NetStandardBuildTests
{
    [Fact]
    public void LibraryUnderTest_IsTheNetStandardBuild_StrongNamed()
    {
        var assembly = typeof(IRefreshingCache<>).Assembly;

        assembly.GetCustomAttribute<TargetFrameworkAttribute>()!.FrameworkName.Should().Be(".NETStandard,Version=v2.0");
        assembly.GetName().GetPublicKeyToken().Should().NotBeNullOrEmpty();
        assembly.GetName().GetPublicKeyToken().Should().Equal(typeof(NetStandardBuildTests).Assembly.GetName().GetPublicKeyToken());
    }

    [Fact]
    public void PriorityQueue_RandomSchedulesWithTies_DequeuesInTheSameOrderAsDotNet()
    {
        var random = new Random(1234);
        for (var round = 0; round < 50; round++)
        {
            var ours = new Poly.PriorityQueue<int, long>();
            var theirs = new PriorityQueue<int, long>();
            var element = 0;
            var dequeued = new List<(int, long)>();
            var expected = new List<(int, long)>();
            for (var step = 0; step < 500; step++)
            {
                if (random.Next(3) == 0 && theirs.Count > 0)
                {
                    theirs.TryPeek(out var peekE, out var peekP).Should().BeTrue();
                    ours.TryPeek(out var ourPeekE, out var ourPeekP).Should().BeTrue();
                    (ourPeekE, ourPeekP).Should().Be((peekE, peekP));
                    expected.Add((theirs.Dequeue(), peekP));
                    dequeued.Add((ours.Dequeue(), ourPeekP));
                }
                else
                {
                    // Few distinct priorities, so ties are common: the order among equal due times must match too.
                    var priority = (long)random.Next(10);
                    theirs.Enqueue(element, priority);
                    ours.Enqueue(element, priority);
                    element++;
                }

                ours.Count.Should().Be(theirs.Count);
            }

            while (theirs.TryDequeue(out var e, out var p))
            {
                expected.Add((e, p));
                ours.TryDequeue(out var oe, out var op).Should().BeTrue();
                dequeued.Add((oe, op));
            }

            ours.TryDequeue(out _, out _).Should().BeFalse();
            dequeued.Should().Equal(expected);
        }
    }

    [Fact]
    public void PriorityQueue_Clear_EmptiesIt()
    {
        var queue = new Poly.PriorityQueue<string, long>();
        queue.Enqueue("a", 2);
        queue.Enqueue("b", 1);

        queue.Clear();

        queue.Count.Should().Be(0);
        queue.TryPeek(out _, out _).Should().BeFalse();
        FluentActions.Invoking(() => queue.Dequeue()).Should().Throw<InvalidOperationException>();
    }

    [Theory]
    [InlineData(7_200_000_0000L, 0.8)]
    [InlineData(3L, 0.5)]
    [InlineData(5L, 0.5)]
    [InlineData(-5L, 0.5)]
    [InlineData(123_456_789L, 1.0 / 3)]
    [InlineData(long.MaxValue / 2, 1.5)]
    public void TimeSpanOperators_RoundLikeDotNet(long ticks, double factor)
    {
        var span = TimeSpan.FromTicks(ticks);

        Poly.PolyfillExtensions.op_Multiply(span, factor).Should().Be(span * factor);
        Poly.PolyfillExtensions.op_Multiply(factor, span).Should().Be(factor * span);
        Poly.PolyfillExtensions.op_Division(span, 1 / factor).Should().Be(span / (1 / factor));
        Poly.PolyfillExtensions.op_Division(span, 2).Should().Be(span / 2);
        Poly.PolyfillExtensions.op_Division(span, TimeSpan.FromTicks(7)).Should().Be(span / TimeSpan.FromTicks(7));
    }

    [Fact]
    public void TimeSpanOperators_OverflowAndNaN_ThrowLikeDotNet()
    {
        FluentActions.Invoking(() => Poly.PolyfillExtensions.op_Multiply(TimeSpan.MaxValue, 2.0)).Should().Throw<OverflowException>();
        FluentActions.Invoking(() => TimeSpan.MaxValue * 2.0).Should().Throw<OverflowException>();
        FluentActions.Invoking(() => Poly.PolyfillExtensions.op_Multiply(TimeSpan.FromSeconds(1), double.NaN)).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => TimeSpan.FromSeconds(1) * double.NaN).Should().Throw<ArgumentException>();
    }

    [Theory]
    [InlineData("secret=abc&x=abc", "abc", "***", StringComparison.Ordinal)]
    [InlineData("ABC abc", "abc", "-", StringComparison.OrdinalIgnoreCase)]
    [InlineData("nothing here", "abc", "-", StringComparison.Ordinal)]
    [InlineData("aaaa", "aa", "b", StringComparison.Ordinal)]
    public void StringReplace_WithComparison_MatchesDotNet(string text, string oldValue, string newValue, StringComparison comparison) =>
        Poly.PolyfillExtensions.Replace(text, oldValue, newValue, comparison).Should().Be(text.Replace(oldValue, newValue, comparison));

    [Fact]
    public void HexAndHashes_MatchDotNet()
    {
        var data = System.Text.Encoding.UTF8.GetBytes("jsapi_ticket=t&noncestr=n&timestamp=1&url=https://example.com/");
        Span<byte> ours = stackalloc byte[32];
        Span<byte> theirs = stackalloc byte[32];

        Poly.PolyfillExtensions.HashData(data, ours).Should().Be(System.Security.Cryptography.SHA256.HashData(data, theirs));

        ours.ToArray().Should().Equal(theirs.ToArray());
        Poly.PolyfillExtensions.ToHexStringLower(data).Should().Be(Convert.ToHexStringLower(data));
#pragma warning disable CA5350 // Compared with the runtime's SHA-1, which WeChat's JS-SDK signature uses.
        Poly.PolyfillExtensions.HashData(data).Should().Equal(System.Security.Cryptography.SHA1.HashData(data));
#pragma warning restore CA5350
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(7, 3)]
    [InlineData(9, 3)]
    [InlineData(5, 10)]
    public void Chunk_MatchesDotNet(int count, int size)
    {
        var items = Enumerable.Range(0, count).ToList();

        Poly.PolyfillExtensions.Chunk(items, size).Should().BeEquivalentTo(items.Chunk(size), o => o.WithStrictOrdering());
    }

    [Fact]
    public void LongTryParse_Span_MatchesDotNet()
    {
        foreach (var text in new[] { "42", "-1", "x", "9223372036854775807", "9223372036854775808", string.Empty })
        {
            var ours = Poly.PolyfillExtensions.TryParse(text.AsSpan(), NumberStyles.None, CultureInfo.InvariantCulture, out long ourValue);
            var theirs = long.TryParse(text.AsSpan(), NumberStyles.None, CultureInfo.InvariantCulture, out var theirValue);
            (ours, ourValue).Should().Be((theirs, theirValue), text);
        }
    }

    [Fact]
    public async Task WaitAsync_Cancelled_EndsTheWaitButNotTheTask()
    {
        var source = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cts = new CancellationTokenSource();
        var wait = Poly.PolyfillExtensions.WaitAsync(source.Task, cts.Token);

        wait.IsCompleted.Should().BeFalse();
        await cts.CancelAsync();

        await FluentActions.Awaiting(() => wait).Should().ThrowAsync<OperationCanceledException>();
        source.Task.IsCompleted.Should().BeFalse();

        var second = Poly.PolyfillExtensions.WaitAsync(source.Task, CancellationToken.None);
        source.SetResult(7);
        (await second).Should().Be(7);
    }

    [Fact]
    public async Task TaskCompletionSource_CompletesItsTaskOnce()
    {
        var source = new Poly.TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        source.Task.IsCompleted.Should().BeFalse();
        source.TrySetResult().Should().BeTrue();
        source.TrySetException(new InvalidOperationException()).Should().BeFalse();
        source.TrySetCanceled().Should().BeFalse();

        await source.Task;
        source.Task.Status.Should().Be(TaskStatus.RanToCompletion);
    }

    [Fact]
    public async Task PeriodicTimer_OnAFakeClock_TicksLikeDotNetsPeriodicTimer()
    {
        var clock = new FakeTimeProvider();
        using var ours = new Poly.PeriodicTimer(TimeSpan.FromSeconds(10), clock);
        using var theirs = new PeriodicTimer(TimeSpan.FromSeconds(10), clock);

        // Nothing before the first period.
        var ourWait = ours.WaitForNextTickAsync().AsTask();
        var theirWait = theirs.WaitForNextTickAsync().AsTask();
        clock.Advance(TimeSpan.FromSeconds(9));
        ourWait.IsCompleted.Should().BeFalse();
        theirWait.IsCompleted.Should().BeFalse();

        clock.Advance(TimeSpan.FromSeconds(1));
        (await ourWait).Should().BeTrue();
        (await theirWait).Should().BeTrue();

        // Ticks while nobody waits count once.
        clock.Advance(TimeSpan.FromSeconds(30));
        (await ours.WaitForNextTickAsync()).Should().BeTrue();
        (await theirs.WaitForNextTickAsync()).Should().BeTrue();
        ourWait = ours.WaitForNextTickAsync().AsTask();
        theirWait = theirs.WaitForNextTickAsync().AsTask();
        ourWait.IsCompleted.Should().BeFalse();
        theirWait.IsCompleted.Should().BeFalse();

        // Only one wait at a time.
        FluentActions.Invoking(() => ours.WaitForNextTickAsync()).Should().Throw<InvalidOperationException>();
        FluentActions.Invoking(() => theirs.WaitForNextTickAsync()).Should().Throw<InvalidOperationException>();

        // Disposing ends a pending wait with false, and later waits too.
        ours.Dispose();
        theirs.Dispose();
        (await ourWait).Should().BeFalse();
        (await theirWait).Should().BeFalse();
        (await ours.WaitForNextTickAsync()).Should().BeFalse();
        (await theirs.WaitForNextTickAsync()).Should().BeFalse();
    }

    [Fact]
    public async Task PeriodicTimer_CancelledWait_ThrowsAndTheNextWaitStillTicks()
    {
        var clock = new FakeTimeProvider();
        using var timer = new Poly.PeriodicTimer(TimeSpan.FromSeconds(10), clock);
        using var cts = new CancellationTokenSource();

        var wait = timer.WaitForNextTickAsync(cts.Token).AsTask();
        await cts.CancelAsync();

        (await FluentActions.Awaiting(() => wait).Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cts.Token);
        var next = timer.WaitForNextTickAsync().AsTask();
        clock.Advance(TimeSpan.FromSeconds(10));
        (await next).Should().BeTrue();
    }
}
