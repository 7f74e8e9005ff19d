using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, owned by the tests; it can be stopped and started again on the
/// same port (an outage).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);
    private Process? _process;

    private RedisServer(int port, string? dataDirectory = null)
    {
        Port = port;
        DataDirectory = dataDirectory;
    }

    /// <summary>Gets the directory of the server's RDB file (<c>dump.rdb</c>), or null when it persists nothing.</summary>
    public string? DataDirectory { get; }

    /// <summary>Gets the extra arguments of the server (cluster mode, replication).</summary>
    public List<string> Arguments { get; } = [];

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>Gets the redis-server binary, or null when it is not installed.</summary>
    public static string? Binary { get; } =
        new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
        ?? (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);

    public const string NotInstalled = "redis-server is not installed (Debian/Ubuntu: apt-get install -y redis-server); .ci/run installs it and requires these tests to run.";

    public static async Task<RedisServer> StartAsync(bool persistent = false, IEnumerable<string>? arguments = null)
    {
        Skip.If(Binary is null, NotInstalled);
        var extra = arguments?.ToList() ?? [];
        var cluster = extra.Contains("--cluster-enabled");
        for (var attempt = 1; ; attempt++)
        {
            var directory = persistent ? Directory.CreateTempSubdirectory("bc-redis-").FullName : null;
            var server = new RedisServer(FreePort(withClusterBus: cluster), directory);
            server.Arguments.AddRange(extra);
            try
            {
                await server.StartAgainAsync();
                return server;
            }
            catch (ServerExitedException) when (attempt < 5)
            {
                // The port was taken between choosing it and the server binding it (another test's connection, or a
                // cluster node's bus port, port + 10000): another port.
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>Saves the data set now (<c>SAVE</c>) and returns a copy of the RDB file.</summary>
    public async Task<string> SnapshotAsync()
    {
        await using var admin = await AdminAsync();
        await admin.GetDatabase().ExecuteAsync("SAVE"); // a snapshot of exactly this moment
        var copy = Path.Combine(DataDirectory!, $"snapshot-{Guid.NewGuid():N}.rdb");
        File.Copy(Path.Combine(DataDirectory!, "dump.rdb"), copy);
        return copy;
    }

    /// <summary>Kills the server (SIGKILL) and starts it again on the same port from <paramref name="snapshot"/>.</summary>
    public async Task RestartFromSnapshotAsync(string snapshot)
    {
        await StopAsync();
        File.Copy(snapshot, Path.Combine(DataDirectory!, "dump.rdb"), overwrite: true);
        await StartAgainAsync();
    }

    public async Task StartAgainAsync()
    {
        var start = new ProcessStartInfo(Binary ?? "redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", string.Empty, "--appendonly", "no", "--protected-mode", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        if (DataDirectory is not null)
        {
            start.WorkingDirectory = DataDirectory;
            foreach (var arg in new[] { "--dir", DataDirectory, "--dbfilename", "dump.rdb" })
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in Arguments)
        {
            start.ArgumentList.Add(arg);
        }

        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Keep(output, e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(output, e.Data);
        if (!_process.Start())
        {
            throw new InvalidOperationException("redis-server did not start: is it installed (apt-get install redis-server)?");
        }

        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        // Wait until it answers (a signal: the server accepting PING), guarded.
        using var cts = new CancellationTokenSource(Guard);
        while (true)
        {
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { { IPAddress.Loopback, Port } }, ConnectTimeout = 1000, AbortOnConnectFail = true });
                await connection.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (!cts.IsCancellationRequested)
            {
                if (_process.HasExited)
                {
                    await _process.WaitForExitAsync(); // its output read to the end
                    throw new ServerExitedException($"redis-server on port {Port} exited with code {_process.ExitCode}: {string.Join(" | ", output)}");
                }

                await Task.Yield();
            }
        }
    }

    /// <summary>Freezes the process (SIGSTOP), as a paused VM or a long GC would; <see cref="ThawAsync"/> resumes it.</summary>
    public Task FreezeAsync() => SignalAsync("-STOP");

    /// <summary>Resumes a frozen process (SIGCONT).</summary>
    public Task ThawAsync() => SignalAsync("-CONT");

    /// <summary>Gets a value indicating whether the process runs (not stopped or killed).</summary>
    public bool IsRunning => _process is { HasExited: false };

    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (DataDirectory is not null)
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    /// <summary>Connects with admin commands allowed (FLUSHALL, CLIENT PAUSE, DEBUG).</summary>
    public Task<ConnectionMultiplexer> AdminAsync() => ConnectionMultiplexer.ConnectAsync($"{Configuration},allowAdmin=true");

    /// <summary>Loses every key, as FLUSHALL, an eviction storm or a failover to an empty replica would.</summary>
    public async Task FlushAllAsync()
    {
        await using var admin = await AdminAsync();
        await admin.GetServer(Configuration).FlushAllDatabasesAsync();
    }

    private async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", [signal, _process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>A free loopback port; for a cluster node, one whose bus port (port + 10000) is free too.</summary>
    internal static int FreePort(bool withClusterBus = false)
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (!withClusterBus)
            {
                return port;
            }

            if (port + 10000 > IPEndPoint.MaxPort)
            {
                continue;
            }

            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
                // The bus port is in use: another port.
            }
        }
    }

    private static void Keep(System.Collections.Concurrent.ConcurrentQueue<string> output, string? line)
    {
        if (line is null)
        {
            return;
        }

        output.Enqueue(line);
        while (output.Count > 20 && output.TryDequeue(out _))
        {
            // Only the last lines: why it exited.
        }
    }

    /// <summary>The server process ended before it answered (its port taken, a bad argument); the message has its last output.</summary>
    private sealed class ServerExitedException(string message) : Exception(message);
}

/// <summary>One redis-server for the whole test assembly (each test uses its own key prefix); none when it is not installed.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisServer? _server;

    /// <summary>Gets the server, or skips the calling test when redis-server is not installed.</summary>
    public RedisServer Server
    {
        get
        {
            Skip.If(_server is null, RedisServer.NotInstalled);
            return _server!;
        }
    }

    public async Task InitializeAsync()
    {
        if (RedisServer.Binary is not null)
        {
            _server = await RedisServer.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RedisTests : ICollectionFixture<RedisFixture>
{
    public const string Name = "redis";
}
