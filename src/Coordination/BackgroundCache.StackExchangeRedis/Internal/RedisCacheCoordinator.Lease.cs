using BackgroundCache.Coordination;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>The leader lease: acquired when free, renewed every third of its duration in real time, released on stop.</summary>
internal sealed partial class RedisCacheCoordinator<T>
{
    private async Task<bool> TryAcquireAsync(IDatabase db, bool whenFree)
    {
        Count();
        var result = (long)await db.ScriptEvaluateAsync(AcquireScript, [_leaseKey], [_owner, (long)_options.LeaseDuration.TotalMilliseconds, whenFree ? "1" : "0"]).ConfigureAwait(false);
        SetLeader(result == 1);
        return result == 1;
    }

    private async Task RenewLoopAsync(CancellationToken stoppingToken)
    {
        // Real time: Redis measures the lease on its own clock.
        using var timer = new PeriodicTimer(TimeSpan.FromTicks(_options.LeaseDuration.Ticks / 3), TimeProvider.System);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await RenewOnceAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task RenewOnceAsync()
    {
        if (!_isLeader || _faults.RenewalPaused)
        {
            return;
        }

        try
        {
            var db = await GetDatabaseAsync().ConfigureAwait(false);

            // A leader whose lease vanished with Redis's data takes it again (it still holds the newest values), and takes the
            // requests followers stored because their messages went unanswered: each is handled as if its message came.
            Count();
            var result = (RedisResult[])(await db.ScriptEvaluateAsync(RenewScript, [_leaseKey, _requestsKey], [_owner, (long)_options.LeaseDuration.TotalMilliseconds]).ConfigureAwait(false))!;
            SetLeader((long)result[0] == 1);
            MarkUp();
            for (var i = 1; i + 1 < result.Length; i += 2)
            {
                var key = (string)result[i]!;
                Log.StoredRequestTaken(_logger, _name, key);
                _work.Writer.TryWrite(new Work($"{(string)result[i + 1]!}|{key}", null));
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            SetLeader(false);
            MarkDown(ex);
        }
    }

    private void SetLeader(bool leader)
    {
        if (_isLeader == leader)
        {
            return;
        }

        _isLeader = leader;
        _metrics.LeaseChanged(_name, leader);
        if (leader)
        {
            Log.LeaseAcquired(_logger, _name, _owner[..8]);
        }
        else
        {
            Log.LeaseLost(_logger, _name, _owner[..8]);
        }
    }
}
