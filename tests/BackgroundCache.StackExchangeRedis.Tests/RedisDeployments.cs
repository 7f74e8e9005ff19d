using System.Diagnostics;
using System.Globalization;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// A real Redis Cluster of three masters (<c>redis-server --cluster-enabled yes</c> × 3 and <c>redis-cli --cluster create</c>),
/// each on a free loopback port; skipped only where redis-server or redis-cli is missing.
/// </summary>
internal sealed class RedisClusterDeployment : IAsyncDisposable
{
    private RedisClusterDeployment(List<RedisServer> nodes) => Nodes = nodes;

    public List<RedisServer> Nodes { get; }

    public string Configuration => string.Join(',', Nodes.Select(n => n.Configuration));

    public static async Task<RedisClusterDeployment> StartAsync()
    {
        Skip.If(RedisServer.Binary is null, RedisServer.NotInstalled);
        Skip.If(RedisCli.Binary is null, "redis-cli is not installed (it comes with redis-server: apt-get install -y redis-server).");
        var nodes = new List<RedisServer>();
        var deployment = new RedisClusterDeployment(nodes);
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await RedisServer.StartAsync(persistent: true, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]));
            }

            await RedisCli.RunAsync(["--cluster", "create", .. nodes.Select(n => n.Configuration), "--cluster-yes"]);
            foreach (var node in nodes)
            {
                await RedisCli.WaitForAsync(node.Port, ["cluster", "info"], output => output.Contains("cluster_state:ok", StringComparison.Ordinal));
            }

            return deployment;
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }
}

/// <summary>
/// A real Sentinel group: one master, one replica and three sentinels (<c>redis-server sentinel.conf --sentinel</c>, what
/// <c>redis-sentinel</c> runs), each on a free loopback port; a master is down after 1 s without answering.
/// </summary>
internal sealed class RedisSentinelDeployment : IAsyncDisposable
{
    public const string ServiceName = "bcmaster";
    private readonly List<Process> _sentinels = [];
    private readonly List<int> _sentinelPorts = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("bc-sentinel-").FullName;

    private RedisSentinelDeployment(RedisServer master, RedisServer replica)
    {
        Master = master;
        Replica = replica;
    }

    public RedisServer Master { get; private set; }

    public RedisServer Replica { get; private set; }

    /// <summary>Gets the connection string of the clients: the sentinels and the service name.</summary>
    public string Configuration => string.Join(',', _sentinelPorts.Select(p => $"127.0.0.1:{p}")) + $",serviceName={ServiceName}";

    public static async Task<RedisSentinelDeployment> StartAsync()
    {
        Skip.If(RedisServer.Binary is null, RedisServer.NotInstalled);
        Skip.If(RedisCli.Binary is null, "redis-cli is not installed (it comes with redis-server: apt-get install -y redis-server).");
        var master = await RedisServer.StartAsync(persistent: true);
        var replica = await RedisServer.StartAsync(persistent: true, ["--replicaof", "127.0.0.1", master.Port.ToString(CultureInfo.InvariantCulture)]);
        var deployment = new RedisSentinelDeployment(master, replica);
        try
        {
            await RedisCli.WaitForAsync(replica.Port, ["info", "replication"], output => output.Contains("master_link_status:up", StringComparison.Ordinal));
            for (var i = 0; i < 3; i++)
            {
                await deployment.StartSentinelAsync();
            }

            foreach (var port in deployment._sentinelPorts)
            {
                // Every sentinel knows the replica and the other sentinels before a failover may be needed.
                await RedisCli.WaitForAsync(port, ["sentinel", "master", ServiceName], output =>
                    Field(output, "num-slaves") == "1" && Field(output, "num-other-sentinels") == "2");
            }

            return deployment;
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the sentinels name <paramref name="server"/> as the master.</summary>
    public async Task WaitForMasterAsync(RedisServer server)
    {
        foreach (var port in _sentinelPorts)
        {
            await RedisCli.WaitForAsync(port, ["sentinel", "get-master-addr-by-name", ServiceName], output =>
                output.Contains(server.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        await RedisCli.WaitForAsync(server.Port, ["info", "replication"], output => output.Contains("role:master", StringComparison.Ordinal));
    }

    /// <summary>The replica became the master: the roles swap in this object.</summary>
    public void Promoted() => (Master, Replica) = (Replica, Master);

    public async ValueTask DisposeAsync()
    {
        foreach (var sentinel in _sentinels)
        {
            if (!sentinel.HasExited)
            {
                sentinel.Kill();
                await sentinel.WaitForExitAsync();
            }

            sentinel.Dispose();
        }

        await Master.DisposeAsync();
        await Replica.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static string? Field(string output, string name)
    {
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        var index = Array.IndexOf(lines, name);
        return index >= 0 && index + 1 < lines.Length ? lines[index + 1] : null;
    }

    private async Task StartSentinelAsync()
    {
        var port = RedisServer.FreePort();
        var config = Path.Combine(_directory, $"sentinel-{port}.conf");
        await File.WriteAllTextAsync(config, $"""
            port {port}
            bind 127.0.0.1
            protected-mode no
            dir {_directory}
            sentinel monitor {ServiceName} 127.0.0.1 {Master.Port} 2
            sentinel down-after-milliseconds {ServiceName} 1000
            sentinel failover-timeout {ServiceName} 5000
            sentinel parallel-syncs {ServiceName} 1

            """);
        var start = new ProcessStartInfo(RedisServer.Binary!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(config);
        start.ArgumentList.Add("--sentinel");
        var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _sentinels.Add(process);
        _sentinelPorts.Add(port);
        await RedisCli.WaitForAsync(port, ["ping"], output => output.Contains("PONG", StringComparison.Ordinal));
    }
}

/// <summary>Runs <c>redis-cli</c> against loopback servers.</summary>
internal static class RedisCli
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    public static string? Binary { get; } = RedisServer.Binary is { } server && Path.Combine(Path.GetDirectoryName(server)!, "redis-cli") is var cli && File.Exists(cli) ? cli : null;

    public static async Task<string> RunAsync(IEnumerable<string> arguments, int? port = null)
    {
        var start = new ProcessStartInfo(Binary!) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        if (port is { } p)
        {
            start.ArgumentList.Add("-p");
            start.ArgumentList.Add(p.ToString(CultureInfo.InvariantCulture));
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(Guard);
        return await output + await error;
    }

    /// <summary>Re-runs a command until its output satisfies <paramref name="condition"/> (Redis's own real-time progress), guarded.</summary>
    public static async Task WaitForAsync(int port, string[] arguments, Func<string, bool> condition)
    {
        using var guard = new CancellationTokenSource(Guard);
        string output;
        while (!condition(output = await RunAsync(arguments, port)))
        {
            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException($"redis-cli -p {port} {string.Join(' ', arguments)}: condition not met within the guard; last output: {output}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), CancellationToken.None);
        }
    }
}
