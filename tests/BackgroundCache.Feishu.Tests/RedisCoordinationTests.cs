using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BackgroundCache.Feishu.Testing;
using BackgroundCache.StackExchangeRedis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BackgroundCache.Feishu.Tests;

public sealed class RedisCoordinationTests
{
    [Fact]
    public async Task TwoHosts_SharingRedis_OneFetchServesBoth()
    {
        await using var redis = await RedisProcess.StartAsync();
        var options = new FeishuEmulatorOptions();
        options.Apps[FeishuHarness.AppId] = FeishuHarness.AppSecret;
        await using var emulator = await FeishuEmulator.StartAsync(options);
        var prefix = "feishu-test-" + Guid.NewGuid().ToString("N")[..6] + ":";
        using var first = await StartHostAsync(emulator, redis.Configuration, prefix);
        var a = await first.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("ops").GetAsync(CancellationToken.None);
        using var second = await StartHostAsync(emulator, redis.Configuration, prefix);
        var b = await second.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("ops").GetAsync(CancellationToken.None);

        b.Value.Should().Be(a.Value);
        emulator.InternalTokenCalls.Should().Be(1, "the second host took the token the first stored in Redis");
        await first.StopAsync();
        await second.StopAsync();
    }

    private static async Task<IHost> StartHostAsync(FeishuEmulator emulator, string redis, string prefix)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddFeishuTenantAccessToken("ops", o =>
        {
            o.AppId = FeishuHarness.AppId;
            o.AppSecret = FeishuHarness.AppSecret;
            o.BaseAddress = emulator.BaseAddress;
        }).UseRedisCoordination(o =>
        {
            o.Configuration = redis;
            o.KeyPrefix = prefix;
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>A real redis-server on a free loopback port, no persistence.</summary>
    private sealed class RedisProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private RedisProcess(Process process, int port)
        {
            _process = process;
            Configuration = $"127.0.0.1:{port}";
        }

        public string Configuration { get; }

        public static async Task<RedisProcess> StartAsync()
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var process = Process.Start(new ProcessStartInfo("redis-server", $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no")
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            var server = new RedisProcess(process, port);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("redis-server exited");
                if (line.Contains("Ready to accept connections", StringComparison.Ordinal))
                {
                    break;
                }
            }

            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            return server;
        }

        public async ValueTask DisposeAsync()
        {
            _process.Kill();
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
