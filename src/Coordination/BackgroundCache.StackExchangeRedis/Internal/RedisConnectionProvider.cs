using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// One connection per distinct setting, shared by the caches of a service provider; a multiplexer registered in DI is
/// reused and never disposed here.
/// </summary>
internal sealed class RedisConnectionProvider(IServiceProvider services) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<object, Lazy<Task<IConnectionMultiplexer>>> _connections = new();
    private readonly List<IConnectionMultiplexer> _owned = [];

    public Task<IConnectionMultiplexer> GetAsync(RedisCoordinationOptions options)
    {
        var key = (object?)options.ConnectionMultiplexerFactory ?? (object?)options.ConfigurationOptions ?? (object?)options.Configuration ?? typeof(IConnectionMultiplexer);
        var lazy = _connections.GetOrAdd(key, _ => new Lazy<Task<IConnectionMultiplexer>>(() => ConnectAsync(options)));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            // A failed attempt is not kept: the next caller connects again.
            _connections.TryRemove(new KeyValuePair<object, Lazy<Task<IConnectionMultiplexer>>>(key, lazy));
            task = _connections.GetOrAdd(key, _ => new Lazy<Task<IConnectionMultiplexer>>(() => ConnectAsync(options))).Value;
        }

        return task;
    }

    public async ValueTask DisposeAsync()
    {
        List<IConnectionMultiplexer> owned;
        lock (_owned)
        {
            owned = [.. _owned];
            _owned.Clear();
        }

        foreach (var connection in owned)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync(RedisCoordinationOptions options)
    {
        if (options.ConnectionMultiplexerFactory is { } factory)
        {
            return await factory().ConfigureAwait(false);
        }

        ConfigurationOptions? configuration = options.ConfigurationOptions?.Clone();
        if (configuration is null && options.Configuration is { } text)
        {
            // Reconnect promptly after a restart or a failover (the client's default backs off from ConnectTimeout / 2);
            // a ConfigurationOptions passed in keeps its own policy.
            configuration = ConfigurationOptions.Parse(text);
            configuration.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        }

        if (configuration is null)
        {
            return services.GetService<IConnectionMultiplexer>() ?? throw new InvalidOperationException(
                "Redis coordination needs a connection: set RedisCoordinationOptions.Configuration, ConfigurationOptions or ConnectionMultiplexerFactory, or register an IConnectionMultiplexer.");
        }

        // Keep retrying in the background: instances must start (and serve) while Redis is down.
        configuration.AbortOnConnectFail = false;

        // Fail fast while disconnected: the coordinator has its own fallbacks, and a queued command would only delay them.
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        var connection = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        if (!connection.IsConnected)
        {
            // Give the first connection its connect timeout before callers fail fast (and fall back to local refreshes).
            var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.ConnectionRestored += (_, _) => connected.TrySetResult();
            if (!connection.IsConnected)
            {
                await Task.WhenAny(connected.Task, Task.Delay(TimeSpan.FromMilliseconds(configuration.ConnectTimeout), TimeProvider.System)).ConfigureAwait(false);
            }
        }

        lock (_owned)
        {
            _owned.Add(connection);
        }

        return connection;
    }
}
