using StackExchange.Redis;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>
/// One ledger for every hub on a Redis: each call is an <c>INCR</c> of its window's key, which expires after the window
/// (keys <c>{prefix}quota:{app}:{window}:{start}</c>, the app hash-tagged so that its windows share a Cluster slot). The
/// counts read are kept here; when Redis cannot be reached, this hub's calls are still counted locally.
/// </summary>
internal sealed class RedisQuotaStore(string configuration, string prefix) : MemoryQuotaStore, IDisposable
{
    private const string IncrementScript = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n";
    private readonly Lazy<Task<ConnectionMultiplexer>> _connection = new(() => ConnectionMultiplexer.ConnectAsync(configuration));

    public static string Key(string prefix, string app, QuotaWindow window, long start) =>
        $"{prefix}quota:{{{app}}}:{window.Name}:{start}";

    public override async ValueTask IncrementAsync(string app, QuotaWindow window, long start, CancellationToken cancellationToken)
    {
        try
        {
            var database = (await _connection.Value.ConfigureAwait(false)).GetDatabase();
            var ttl = (long)window.Length.TotalSeconds + 3600;
            var count = (long)await database.ScriptEvaluateAsync(IncrementScript, [Key(prefix, app, window, start)], [ttl]).ConfigureAwait(false);
            Set(app, window, start, count);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            await base.IncrementAsync(app, window, start, cancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task RefreshAsync(IReadOnlyList<(string App, QuotaWindow Window, long Start)> windows, CancellationToken cancellationToken)
    {
        try
        {
            var database = (await _connection.Value.ConfigureAwait(false)).GetDatabase();
            foreach (var (app, window, start) in windows)
            {
                var value = await database.StringGetAsync(Key(prefix, app, window, start)).ConfigureAwait(false);
                if (value.TryParse(out long count))
                {
                    Set(app, window, start, count);
                }
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The last counts read stay shown; /health of the caches says that Redis is unreachable.
        }
    }

    public void Dispose()
    {
        if (_connection.IsValueCreated && _connection.Value.IsCompletedSuccessfully)
        {
            _connection.Value.Result.Dispose();
        }
    }
}
