using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// A simulated day (FakeTimeProvider driving the WeChat emulator and every instance) of a 2-hour token read 1,000 times a
/// second by each of N instances: upstream token calls, and reads that would have received a token WeChat no longer accepts.
/// Token validity is sampled every 10 s of simulated time.
/// </summary>
public static class UpstreamCallsScenario
{
    private const string AppId = "wxbench0000000001";
    private const string Secret = "bench-secret";
    private const int ReadsPerSecond = 1000;
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);

    public static async Task RunAsync()
    {
        Console.WriteLine("## A simulated day of a 2-hour WeChat token, 1,000 reads/s per instance");
        Console.WriteLine();
        Console.WriteLine("| strategy | instances | upstream token calls | reads of a rejected token |");
        Console.WriteLine("|---|---:|---:|---:|");
        Process? redis = null;
        string? redisConfiguration = null;
        try
        {
            (redis, redisConfiguration) = await StartRedisAsync();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Console.Error.WriteLine($"redis-server unavailable ({ex.Message}); the Redis rows are skipped.");
        }

        try
        {
            foreach (var n in new[] { 1, 5, 20 })
            {
                await PrintAsync("per-instance `while(true){fetch; Delay}` loop (classic token)", n, time => SimulateAsync(time, n, onDemand: false));
                await PrintAsync("on-demand IMemoryCache GetOrCreate with expiry (classic token)", n, time => SimulateAsync(time, n, onDemand: true));
                await PrintAsync("BackgroundCache per instance, uncoordinated (classic token)", n, time => HostsAsync(time, n, WeChatTokenMode.Token, null));
                await PrintAsync("BackgroundCache per instance (stable_token)", n, time => HostsAsync(time, n, WeChatTokenMode.StableToken, null));
                if (redisConfiguration is not null)
                {
                    await PrintAsync("BackgroundCache + Redis coordination (classic token)", n, time => HostsAsync(time, n, WeChatTokenMode.Token, redisConfiguration));
                }
            }
        }
        finally
        {
            redis?.Kill();
        }

        Console.WriteLine();
    }

    private static async Task PrintAsync(string strategy, int instances, Func<(FakeTimeProvider Time, WeChatEmulator Emulator), Task<long>> run)
    {
        var time = new FakeTimeProvider(Start);
        var options = new WeChatEmulatorOptions { TimeProvider = time };
        options.Apps[AppId] = Secret;
        await using var emulator = await WeChatEmulator.StartAsync(options);
        var invalidSamples = await run((time, emulator));
        Console.WriteLine($"| {strategy} | {instances} | {emulator.TokenCalls} | {invalidSamples * (long)Step.TotalSeconds * ReadsPerSecond:N0} |");
    }

    /// <summary>What blog posts do: each instance fetches a classic token, then waits expires_in minus 5 minutes (or fetches on the first read after that).</summary>
    private static async Task<long> SimulateAsync((FakeTimeProvider Time, WeChatEmulator Emulator) env, int instances, bool onDemand)
    {
        using var http = new HttpClient { BaseAddress = env.Emulator.BaseAddress };
        var tokens = new string?[instances];
        var next = Enumerable.Range(0, instances).Select(i => Start.AddSeconds(i * 3)).ToArray(); // a rolling start
        long invalid = 0;
        for (var now = Start; now < Start + Day; now += Step)
        {
            env.Time.Advance(now - env.Time.GetUtcNow());
            for (var i = 0; i < instances; i++)
            {
                if (now >= next[i])
                {
                    using var body = JsonDocument.Parse(await http.GetStringAsync($"cgi-bin/token?grant_type=client_credential&appid={AppId}&secret={Secret}"));
                    tokens[i] = body.RootElement.GetProperty("access_token").GetString();
                    var lifetime = TimeSpan.FromSeconds(body.RootElement.GetProperty("expires_in").GetInt32() - 300);
                    next[i] = onDemand ? now + lifetime : next[i] + lifetime;
                }

                invalid += tokens[i] is not null && env.Emulator.ValidateAccessToken(tokens[i]) != 0 ? 1 : 0;
            }
        }

        return invalid;
    }

    private static async Task<long> HostsAsync((FakeTimeProvider Time, WeChatEmulator Emulator) env, int instances, WeChatTokenMode mode, string? redis)
    {
        var prefix = $"bench:{Guid.NewGuid():N}:";
        var hosts = new List<IHost>();
        for (var i = 0; i < instances; i++)
        {
            var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddSingleton<TimeProvider>(env.Time);
            builder.Logging.SetMinimumLevel(LogLevel.Critical);
            var cache = builder.Services.AddWeChatAccessToken("demo", o =>
            {
                o.AppId = AppId;
                o.AppSecret = Secret;
                o.BaseAddress = env.Emulator.BaseAddress;
                o.Mode = mode;
            });
            if (redis is not null)
            {
                cache.UseRedisCoordination(o =>
                {
                    o.Configuration = redis;
                    o.KeyPrefix = prefix;
                });
            }

            var host = builder.Build();
            await host.StartAsync();
            hosts.Add(host);
        }

        var refreshers = hosts.Select(h => h.Services.GetRequiredKeyedService<PeriodicCacheRefresher<AccessToken>>("demo")).ToList();
        long invalid = 0;
        for (var now = Start; now < Start + Day; now += Step)
        {
            env.Time.Advance(now - env.Time.GetUtcNow());
            await QuiesceAsync(refreshers, env.Time);
            foreach (var refresher in refreshers)
            {
                invalid += refresher.TryGetValue(out var token) && env.Emulator.ValidateAccessToken(token.Value) == 0 ? 0 : 1;
            }
        }

        foreach (var host in hosts)
        {
            await host.StopAsync();
            host.Dispose();
        }

        return invalid;
    }

    /// <summary>Waits (real time) until every refresher waits for a future refresh, and shared values have propagated.</summary>
    private static async Task QuiesceAsync(List<PeriodicCacheRefresher<AccessToken>> refreshers, TimeProvider time)
    {
        var guard = Stopwatch.StartNew();
        while (guard.Elapsed < TimeSpan.FromSeconds(10))
        {
            var now = time.GetUtcNow();
            var idle = refreshers.All(r => r.IsWaiting && r.Status.NextRefreshAt > now);
            var versions = refreshers.Select(r => r.Status.Version).Distinct().Count();
            if (idle && (versions == 1 || refreshers.Count == 1 || guard.Elapsed > TimeSpan.FromSeconds(1)))
            {
                return;
            }

            await Task.Delay(1);
        }
    }

    private static async Task<(Process, string)> StartRedisAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
        process.BeginOutputReadLine();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return (process, $"127.0.0.1:{port}");
            }
            catch (SocketException)
            {
                await Task.Delay(25);
            }
        }

        process.Kill();
        throw new InvalidOperationException("redis-server did not accept connections");
    }
}
