namespace BackgroundCache.Coordination;

/// <summary>
/// Shares one cache's value, or one set's values, between the instances of an application through a store they all reach
/// (Redis, a database, etcd): one instance at a time calls the upstream for a value, and every instance serves what it
/// stored. The engine calls it; attach one with <c>UseCoordinator</c> on a cache or set builder.
/// </summary>
/// <typeparam name="T">The type of the cached values.</typeparam>
/// <remarks>
/// <para><b>Scope and lifetime.</b> One coordinator serves one registration on one instance: a single cache (one entry, key
/// <c>""</c>) or a set (one entry per key, keys formatted by <see cref="CoordinationKeys"/>). The engine calls
/// <see cref="StartAsync"/> once before the first fetch, then <see cref="RefreshAsync"/> for each refresh and
/// <see cref="RemoveAsync"/> for each key a set removes on purpose, then <see cref="StopAsync"/> once after its entries
/// stopped, and finally <see cref="IDisposable.Dispose"/>, which may come more than once (a service provider that built the
/// coordinator disposes it too) and without <see cref="StopAsync"/> (a host that failed to start).</para>
/// <para><b>The rules a coordinator keeps.</b></para>
/// <list type="number">
/// <item><description><b>One upstream call per refresh.</b> Only the holder of the store's lease (the leader) calls the
/// <c>fetch</c> passed to <see cref="RefreshAsync"/>; every other instance returns the value the leader stored, and a
/// value stored with a version above <c>decidedOnVersion</c> satisfies the refresh without any call.</description></item>
/// <item><description><b>Versions come from the store.</b> A stored value's version is assigned by the shared store (a
/// counter, a clock, a revision) and increases strictly for each key; every instance serves a stored value with that same
/// version. Versions are positive; a local counter is never a shared version.</description></item>
/// <item><description><b>Fencing.</b> A write is conditional: it succeeds only while this instance still holds the lease
/// and the stored version is still the one its fetch set out to replace. A leader that lost its lease (paused, cut off)
/// never overwrites a newer value: its refresh returns the stored value instead, with
/// <see cref="CoordinatedResult{T}.FromUpstream"/> false.</description></item>
/// <item><description><b>What a follower may publish.</b> Only a value read from the store, with the store's version,
/// through <see cref="ICoordinatedEntry{T}.PublishShared"/> or as a <see cref="RefreshAsync"/> result: never a value it
/// made up, nor one fetched without the lease, unless the store is unreachable and the coordinator's own outage policy says
/// so (then the result's version is <see langword="null"/>). <c>force</c> publishes a stored version older than the served
/// one: only when the store itself went back (a fail-over, a restore), never because a read arrived late.</description></item>
/// <item><description><b>Reports reach the leader.</b> A refresh with a <c>rejected</c> value (the upstream refused the
/// served value, <see cref="IRefreshingCache{T}.Invalidate"/>) on a follower is forwarded to the leader, which calls
/// <see cref="ICoordinatedEntry{T}.Invalidate"/> on its entry; a request from a follower that is behind is answered with
/// the stored value. Either way every instance ends with one new value.</description></item>
/// <item><description><b>Start adopts.</b> <see cref="StartAsync"/> publishes every still-valid stored value (not expired
/// by <see cref="ICoordinatedValues{T}.GetExpiresAt"/>) before the first fetch, so a restart makes no upstream call.</description></item>
/// <item><description><b>Removal propagates.</b> <see cref="RemoveAsync"/> deletes the key from the store and tells the
/// other instances, which call <see cref="ICoordinatedValues{T}.RemoveLocal"/>.</description></item>
/// </list>
/// <para><b>Timing.</b> <c>fetch</c> is already bounded by <see cref="RefreshingCacheOptions.FetchTimeout"/> on the cache's
/// <see cref="TimeProvider"/>. Everything else the coordinator waits for (the lease, another instance's answer) must be
/// bounded too, on the clock the store measures its lease with (usually real time); a refresh that cannot finish throws,
/// and the engine retries with its backoff while it keeps serving the current value. Throw
/// <see cref="OperationCanceledException"/> only for the <c>cancellationToken</c> passed in (stop).</para>
/// <para><b>Threading.</b> <see cref="RefreshAsync"/> runs concurrently for different entries of a set, never twice at once
/// for one entry. Store notifications may arrive on any thread: every member of <see cref="ICoordinatedValues{T}"/> and
/// <see cref="ICoordinatedEntry{T}"/> is thread-safe, never blocks and may be called at any time after
/// <see cref="StartAsync"/> began.</para>
/// </remarks>
public interface ICacheCoordinator<T> : IDisposable
{
    /// <summary>
    /// Starts coordinating <paramref name="values"/>: connects to the store, listens for its changes and publishes the
    /// still-valid stored values (<see cref="ICoordinatedEntry{T}.PublishShared"/>) before the first fetch. Called once.
    /// </summary>
    /// <param name="values">The cache or set coordinated; keep it for notifications.</param>
    /// <param name="cancellationToken">Cancelled when the host's start is abandoned.</param>
    /// <returns>A task that completes when the coordinator is ready; a store that cannot be reached should not fail start
    /// (the refreshes then apply the coordinator's outage policy).</returns>
    ValueTask StartAsync(ICoordinatedValues<T> values, CancellationToken cancellationToken);

    /// <summary>Stops coordinating: releases what this instance holds in the store (its lease). Called once, after the entries stopped.</summary>
    /// <param name="cancellationToken">Cancelled when the host's shutdown timeout passes.</param>
    /// <returns>A task that completes when the coordinator stopped.</returns>
    ValueTask StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs one refresh of <paramref name="entry"/>: as the leader, calls <paramref name="fetch"/> once and stores its value
    /// (fenced); otherwise returns the value the leader stored with a version above <paramref name="decidedOnVersion"/>,
    /// asking the leader for one if the store has none yet.
    /// </summary>
    /// <param name="entry">The entry refreshed.</param>
    /// <param name="fetch">Calls the upstream once, already bounded by <see cref="RefreshingCacheOptions.FetchTimeout"/>.</param>
    /// <param name="forced">The refresh was requested (<c>RefreshAsync</c>, <c>Invalidate</c>), not scheduled.</param>
    /// <param name="rejected">The served value the upstream refused (a report), or <see langword="default"/>.</param>
    /// <param name="decidedOnVersion">The version the entry served when this refresh was decided: any newer stored version satisfies it.</param>
    /// <param name="cancellationToken">Cancelled when the cache stops.</param>
    /// <returns>The value, its shared version, and whether it came from the upstream.</returns>
    ValueTask<CoordinatedResult<T>> RefreshAsync(ICoordinatedEntry<T> entry, Func<CancellationToken, ValueTask<T>> fetch, bool forced, T? rejected, long decidedOnVersion, CancellationToken cancellationToken);

    /// <summary>Removes a set's key for every instance (the set's <c>RemoveAsync</c>): from the store, and from the other instances' sets.</summary>
    /// <param name="key">The key, formatted by <see cref="CoordinationKeys"/>.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns>A task that completes when the removal was sent; a store that cannot be reached should not throw.</returns>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken);
}
