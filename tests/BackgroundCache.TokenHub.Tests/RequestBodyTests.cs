using System.Diagnostics;
using System.Net;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace BackgroundCache.TokenHub.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurements
{
    public const string Name = "memory measurements (run alone)";
}

/// <summary>Unauthenticated bodies are never read into memory: the key is checked before any endpoint reads a body.</summary>
[Collection(MemoryMeasurements.Name)]
public sealed class RequestBodyTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int BodySize = 20 * 1024 * 1024;
    private const int Concurrent = 8;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _emulator = null!;
    private HubHost _hub = null!;

    public async Task InitializeAsync()
    {
        _emulator = await HubHost.StartEmulatorAsync(_time);
        _hub = await HubHost.StartAsync(HubHost.TwoAppsThreeClients(_emulator), _time);
        await _hub.TokenAsync("a", "key-all");
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _emulator.DisposeAsync();
    }

    [Theory]
    [InlineData(null, "tokens/a/invalidate")]
    [InlineData("wrong-key", "tokens/a/invalidate")]
    public async Task UnauthenticatedTwentyMegabyteBodies_AreRefusedWithoutBeingBuffered(string? key, string path)
    {
        await SendAsync(key, path, Concurrent); // warm up JIT, connections and Kestrel's memory pool for this concurrency
        var heapBefore = HeapAfterFullCollection();
        var workingSetBefore = WorkingSet();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();

        var outcomes = await SendAsync(key, path, Concurrent).WaitAsync(HubHost.Guard);

        clock.Stop();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var workingSetGrowth = WorkingSet() - workingSetBefore;
        var heapGrowth = HeapAfterFullCollection() - heapBefore;
        output.WriteLine($"{Concurrent} x {BodySize / (1024 * 1024)} MiB to {path} (key {key ?? "none"}): {string.Join(", ", outcomes)}; " +
            $"allocated {allocated / 1024.0 / 1024:F2} MiB in the whole test process, heap growth {heapGrowth / 1024.0 / 1024:F2} MiB, working set growth {workingSetGrowth / 1024.0 / 1024:F2} MiB, {clock.ElapsedMilliseconds} ms");

        outcomes.Should().OnlyContain(o => o == "401" || o == "closed", "the hub answers 401 (or closes the connection) without reading the body");
        outcomes.Should().Contain("401");
        allocated.Should().BeLessThan(16L * 1024 * 1024, $"{Concurrent * BodySize / (1024 * 1024)} MiB were sent; buffering even one body would allocate 20 MiB (reading them before the key check allocates 642 MiB)");
        heapGrowth.Should().BeLessThan(16L * 1024 * 1024);
    }

    [Fact]
    public async Task AuthenticatedTwentyMegabyteBody_IsRefused413WithoutBeingBuffered()
    {
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var outcomes = await SendAsync("key-a", "tokens/a/invalidate", 1).WaitAsync(HubHost.Guard);

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        output.WriteLine($"1 x 20 MiB with a valid key: {outcomes[0]}; allocated {allocated / 1024.0 / 1024:F2} MiB");
        outcomes.Should().Equal("413");
        allocated.Should().BeLessThan(16L * 1024 * 1024);
    }

    private async Task<string[]> SendAsync(string? key, string path, int count)
    {
        using var http = new HttpClient(new SocketsHttpHandler()) { Timeout = HubHost.Guard };
        return await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_hub.Address, path)) { Content = new ZeroContent(BodySize) };
            if (key is not null)
            {
                request.Headers.Add("X-Api-Key", key);
            }

            try
            {
                using var response = await http.SendAsync(request);
                return ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (HttpRequestException)
            {
                return "closed";
            }
        }));
    }

    private static long WorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    private static long HeapAfterFullCollection()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>
    /// A valid JSON body, <c>{"access_token":"xxx…"}</c>, streamed from one shared 64 KiB buffer (the client allocates nothing
    /// per chunk). Valid JSON matters: a server that binds the body before checking the key buffers all of it (the sample
    /// before this package: 8 such bodies took it from 89 to 548 MiB), where invalid bytes would fail at the first one.
    /// </summary>
    private sealed class ZeroContent(long length) : HttpContent
    {
        private static readonly byte[] Prefix = "{\"access_token\":\""u8.ToArray();
        private static readonly byte[] Suffix = "\"}"u8.ToArray();
        private static readonly byte[] Chunk = Enumerable.Repeat((byte)'x', 64 * 1024).ToArray();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Prefix);
            for (var left = length - Prefix.Length - Suffix.Length; left > 0; left -= Chunk.Length)
            {
                await stream.WriteAsync(Chunk.AsMemory(0, (int)Math.Min(Chunk.Length, left)));
            }

            await stream.WriteAsync(Suffix);
        }

        protected override bool TryComputeLength(out long length1)
        {
            length1 = length;
            return true;
        }
    }
}
