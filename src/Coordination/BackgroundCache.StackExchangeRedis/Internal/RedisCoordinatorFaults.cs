namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// Faults and observation points a test injects into a coordinator (a paused process, a delayed return, the message
/// stream). Production code never sets them: every member is a no-op by default.
/// </summary>
internal sealed class RedisCoordinatorFaults
{
    /// <summary>Gets or sets a value indicating whether lease renewal is paused, as in a paused process.</summary>
    public volatile bool RenewalPaused;

    /// <summary>
    /// Gets or sets a value indicating whether channel messages are lost on the way to this instance (seen, then dropped),
    /// as by a subscription still on a dead master after a failover.
    /// </summary>
    public volatile bool MessagesLost;

    /// <summary>Gets or sets a callback that sees every channel message as it arrives.</summary>
    public Action<string>? OnMessage { get; set; }

    /// <summary>Gets or sets a callback that runs after a refresh read a newer shared value and before it returns it.</summary>
    public Func<Task>? BeforeReturningShared { get; set; }

    /// <summary>Gets or sets a callback that runs after the leader stored a value it fetched and before the refresh returns it to its entry.</summary>
    public Func<Task>? AfterStoringFetched { get; set; }

    /// <summary>Gets or sets a callback that runs after the leader read its entry for another instance's request and before it acts on it.</summary>
    public Func<Task>? BeforeAnsweringRequest { get; set; }

    /// <summary>Gets or sets a callback that runs after a poll read the suspect marks (as leader) and before it acts on them.</summary>
    public Func<Task>? BeforeRefreshingSuspects { get; set; }
}

/// <summary>
/// What tests may do to a coordinator beyond its contract (run a poll now, die like a killed process); implemented
/// explicitly, so that none of it is part of the coordinator's own surface.
/// </summary>
internal interface IRedisCoordinatorTestAccess
{
    /// <summary>Gets the faults injected into this coordinator.</summary>
    RedisCoordinatorFaults Faults { get; }

    /// <summary>Gets how many channel messages this instance received (one per publish, whatever the reconnects).</summary>
    long MessagesReceived { get; }

    /// <summary>Gets how many Redis commands this coordinator sent (an idle instance's cost does not grow with keys).</summary>
    long CommandsSent { get; }

    /// <summary>Renews (or re-creates) the lease now, as the real-time renewal tick does.</summary>
    Task RenewNowAsync();

    /// <summary>Runs a poll now, in order with the notifications, and waits for it.</summary>
    Task PollNowAsync();

    /// <summary>Dies without releasing anything, as a killed process would.</summary>
    Task SimulateCrashAsync();
}
