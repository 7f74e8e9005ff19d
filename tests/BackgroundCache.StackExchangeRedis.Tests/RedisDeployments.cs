using System.Diagnostics;
using System.Globalization;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>
/// A real Redis Cluster of three masters (<c>redis-server --cluster-enabled yes</c> × 3 and <c>redis-cli --cluster create</c>),
/// optionally with a replica each (<c>--cluster-replicas 1</c>), each on a free loopback port; a node is failed after 2 s
/// without answering. Skipped only where redis-server or redis-cli is missing.
/// </summary>
internal sealed class RedisClusterDeployment : IAsyncDisposable
{
    private RedisClusterDeployment(List<RedisServer> nodes) => Nodes = nodes;

    public List<RedisServer> Nodes { get; }

    public string Configuration => string.Join(',', Nodes.Select(n => n.Configuration));

    public static async Task<RedisClusterDeployment> StartAsync(bool replicas = false)
    {
        Skip.If(RedisServer.Binary is null, RedisServer.NotInstalled);
        Skip.If(RedisCli.Binary is null, "redis-cli is not installed (it comes with redis-server: apt-get install -y redis-server).");
        var nodes = new List<RedisServer>();
        var deployment = new RedisClusterDeployment(nodes);
        try
        {
            for (var i = 0; i < (replicas ? 6 : 3); i++)
            {
                nodes.Add(await RedisServer.StartAsync(persistent: true, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]));
            }

            await RedisCli.RunAsync(["--cluster", "create", .. nodes.Select(n => n.Configuration), .. replicas ? ["--cluster-replicas", "1"] : Array.Empty<string>(), "--cluster-yes"]);
            foreach (var node in nodes)
            {
                await RedisCli.WaitForAsync(node.Port, ["cluster", "info"], output => output.Contains("cluster_state:ok", StringComparison.Ordinal));
            }

            if (replicas)
            {
                // redis-cli assigns the replicas after the masters: wait until every node knows all three.
                foreach (var node in nodes)
                {
                    await RedisCli.WaitForAsync(node.Port, ["cluster", "nodes"], output => output.Split('\n').Count(l => l.Contains("slave ", StringComparison.Ordinal)) == 3);
                }

                foreach (var replica in await deployment.ReplicasAsync())
                {
                    await RedisCli.WaitForAsync(replica.Port, ["info", "replication"], output => output.Contains("master_link_status:up", StringComparison.Ordinal));
                }
            }

            return deployment;
        }
        catch
        {
            await deployment.DisposeAsync();
            throw;
        }
    }

    /// <summary>Gets the master that serves <paramref name="key"/>'s hash slot, and its replica (or null), from <c>CLUSTER NODES</c>.</summary>
    public async Task<(RedisServer Master, RedisServer? Replica)> ServingAsync(string key)
    {
        var alive = Nodes.First(n => n.IsRunning);
        var slot = int.Parse((await RedisCli.RunAsync(["cluster", "keyslot", key], alive.Port)).Trim(), CultureInfo.InvariantCulture);
        var lines = await ClusterNodesAsync(alive);
        var master = lines.Single(l => l.Flags.Contains("master", StringComparison.Ordinal) && !l.Flags.Contains("fail", StringComparison.Ordinal) && l.Serves(slot));
        var replica = lines.FirstOrDefault(l => l.MasterId == master.Id);
        return (Nodes.Single(n => n.Port == master.Port), replica is null ? null : Nodes.Single(n => n.Port == replica.Port));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task<List<RedisServer>> ReplicasAsync()
    {
        var lines = await ClusterNodesAsync(Nodes[0]);
        return [.. lines.Where(l => l.Flags.Contains("slave", StringComparison.Ordinal)).Select(l => Nodes.Single(n => n.Port == l.Port))];
    }

    private static async Task<List<ClusterNode>> ClusterNodesAsync(RedisServer node) =>
        [.. (await RedisCli.RunAsync(["cluster", "nodes"], node.Port)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ClusterNode.Parse)];

    /// <summary>One line of <c>CLUSTER NODES</c>: id, ip:port@cport, flags, master id (or -), …, slot ranges.</summary>
    private sealed record ClusterNode(string Id, int Port, string Flags, string MasterId, string[] Slots)
    {
        public static ClusterNode Parse(string line)
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var address = fields[1].Split('@')[0];
            return new ClusterNode(fields[0], int.Parse(address[(address.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture), fields[2], fields[3], fields[8..]);
        }

        public bool Serves(int slot) => Slots.Where(s => !s.StartsWith('[')).Any(range =>
        {
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            var first = int.Parse(dash < 0 ? range : range[..dash], CultureInfo.InvariantCulture);
            var last = dash < 0 ? first : int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture);
            return slot >= first && slot <= last;
        });
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

    /// <summary>
    /// Waits until the two servers replicate again after a returned server (link up, every sentinel naming the same
    /// master) and returns whether the sentinels chose the returned server as master (a second failover: on a loaded
    /// machine the serving master can miss <c>down-after-milliseconds</c> while it syncs the returned one). The roles
    /// in this object follow the sentinels.
    /// </summary>
    public async Task<bool> WaitForReplicationAsync()
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (true)
        {
            var named = new HashSet<string>(StringComparer.Ordinal);
            foreach (var port in _sentinelPorts)
            {
                named.Add((await RedisCli.RunAsync(["sentinel", "get-master-addr-by-name", ServiceName], port)).Trim());
            }

            if (named.Count == 1)
            {
                var master = named.Single().Contains(Master.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) ? Master
                    : named.Single().Contains(Replica.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) ? Replica
                    : null;
                var replica = master == Master ? Replica : Master;
                if (master is not null
                    && (await RedisCli.RunAsync(["info", "replication"], master.Port)).Contains("role:master", StringComparison.Ordinal)
                    && (await RedisCli.RunAsync(["info", "replication"], replica.Port)).Contains("master_link_status:up", StringComparison.Ordinal))
                {
                    var failedBack = master != Master;
                    if (failedBack)
                    {
                        Promoted();
                    }

                    return failedBack;
                }
            }

            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException($"the sentinels name {string.Join(" / ", named)}; master {Master.Port}: {await RedisCli.RunAsync(["info", "replication"], Master.Port)}; replica {Replica.Port}: {await RedisCli.RunAsync(["info", "replication"], Replica.Port)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), CancellationToken.None);
        }
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
