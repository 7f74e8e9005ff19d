using BackgroundCache.Coordination;
namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>The test seam (<see cref="IRedisCoordinatorTestAccess"/>), implemented explicitly.</summary>
internal sealed partial class RedisCacheCoordinator<T> : IRedisCoordinatorTestAccess
{
    private readonly RedisCoordinatorFaults _faults = new();

    RedisCoordinatorFaults IRedisCoordinatorTestAccess.Faults => _faults;

    long IRedisCoordinatorTestAccess.MessagesReceived => Interlocked.Read(ref _messagesReceived);

    long IRedisCoordinatorTestAccess.CommandsSent => Interlocked.Read(ref _commands);

    Task IRedisCoordinatorTestAccess.RenewNowAsync() => RenewOnceAsync();

    async Task IRedisCoordinatorTestAccess.PollNowAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_work.Writer.TryWrite(new Work(null, done)))
        {
            return;
        }

        await done.Task.ConfigureAwait(false);
    }

    async Task IRedisCoordinatorTestAccess.SimulateCrashAsync()
    {
        _crashed = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _work.Writer.TryComplete();
        await Task.WhenAll(_renewLoop, _workLoop).ConfigureAwait(false);
        if (_connection is { } connection)
        {
            try
            {
                await connection.GetSubscriber().UnsubscribeAsync(_channel, _onMessage).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                // A killed process unsubscribes nothing either; its work loop has ended, so messages are dropped.
            }
        }
    }
}
