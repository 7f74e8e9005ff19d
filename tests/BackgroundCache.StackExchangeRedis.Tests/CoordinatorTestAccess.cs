using BackgroundCache.StackExchangeRedis.Internal;

namespace BackgroundCache.StackExchangeRedis.Tests;

/// <summary>The coordinator's test seam (<see cref="IRedisCoordinatorTestAccess"/>) as members of the coordinator, for brevity.</summary>
internal static class CoordinatorTestAccess
{
    extension<T>(RedisCacheCoordinator<T> coordinator)
    {
        public long MessagesReceived => Access(coordinator).MessagesReceived;

        public long CommandsSent => Access(coordinator).CommandsSent;

        public Action<string>? OnMessage
        {
            get => Access(coordinator).Faults.OnMessage;
            set => Access(coordinator).Faults.OnMessage = value;
        }

        public Func<Task>? BeforeReturningShared
        {
            get => Access(coordinator).Faults.BeforeReturningShared;
            set => Access(coordinator).Faults.BeforeReturningShared = value;
        }

        public Func<Task>? AfterStoringFetched
        {
            get => Access(coordinator).Faults.AfterStoringFetched;
            set => Access(coordinator).Faults.AfterStoringFetched = value;
        }

        public Func<Task>? BeforeAnsweringRequest
        {
            get => Access(coordinator).Faults.BeforeAnsweringRequest;
            set => Access(coordinator).Faults.BeforeAnsweringRequest = value;
        }

        public Func<Task>? BeforeRefreshingSuspects
        {
            get => Access(coordinator).Faults.BeforeRefreshingSuspects;
            set => Access(coordinator).Faults.BeforeRefreshingSuspects = value;
        }

        public bool MessagesLost
        {
            get => Access(coordinator).Faults.MessagesLost;
            set => Access(coordinator).Faults.MessagesLost = value;
        }

        public void PauseRenewal() => Access(coordinator).Faults.RenewalPaused = true;

        public void ResumeRenewal() => Access(coordinator).Faults.RenewalPaused = false;

        public Task RenewNowAsync() => Access(coordinator).RenewNowAsync();

        public Task PollNowAsync() => Access(coordinator).PollNowAsync();

        public Task SimulateCrashAsync() => Access(coordinator).SimulateCrashAsync();
    }

#pragma warning disable CA1859 // The point is to go through the seam's interface.
    private static IRedisCoordinatorTestAccess Access<T>(RedisCacheCoordinator<T> coordinator) => coordinator;
#pragma warning restore CA1859
}
