namespace BackgroundCache.Internal.Engine;

/// <summary>
/// The one place that decides when a value is refreshed, retried and withdrawn. Single caches and every key of a set use it.
/// </summary>
internal static class RefreshPolicy
{
    /// <summary>The shortest delay between two scheduled refreshes of one value.</summary>
    public static readonly TimeSpan MinScheduledDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The share of a value's refresh delay over which a set spreads the next refresh of a value that did not come from an
    /// on-time scheduled refresh (a first load, an on-demand refresh, a recovery): keys loaded together at start or after an
    /// outage end up spread over a tenth of their lifetime instead of refreshing in one burst.
    /// </summary>
    public const double SpreadFraction = 0.1;

    /// <summary>
    /// The delay from a successful fetch to the next refresh: <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead
    /// of the value's expiry (never earlier than half its life; for an issuer that returns the same token until its renewal
    /// window, never before the window: <see cref="WaitsForRenewalWindow"/>), or <see cref="RefreshingCacheOptions.RefreshInterval"/>;
    /// moved earlier (never later) by up to <see cref="RefreshingCacheOptions.Jitter"/>, or, when <paramref name="spread"/>,
    /// by up to <see cref="SpreadFraction"/> of the delay if that is more. Never more than half the delay, never below
    /// <see cref="MinScheduledDelay"/>. A zero <see cref="RefreshingCacheOptions.Jitter"/> turns all randomness off.
    /// </summary>
    /// <remarks>
    /// The spread applies once per out-of-schedule load, not at every refresh: keys already spread keep their phase, and a
    /// 2-hour token keeps its 13 fetches a day (a wide window drawn at every refresh would drift into a 14th).
    /// </remarks>
    public static TimeSpan AfterSuccess(RefreshingCacheOptions options, DateTimeOffset? expiresAt, DateTimeOffset now, bool spread, TokenRenewal? renewal = null)
    {
        var delay = Nominal(options, expiresAt, now, renewal);
        if (options.Jitter > TimeSpan.Zero)
        {
            // Tick arithmetic: TimeSpan * double checks for NaN and overflow and rounds, once per refresh of every key.
            var window = options.Jitter;
            var spreadTicks = (long)(delay.Ticks * SpreadFraction);
            if (spread && spreadTicks > window.Ticks)
            {
                window = TimeSpan.FromTicks(spreadTicks);
            }

            if (window > delay / 2)
            {
                window = delay / 2;
            }

            // A refresh that waits for the issuer's renewal window is never pulled back before the window opens.
            if (WaitsForRenewalWindow(options, expiresAt, renewal) && window > WindowMargin(renewal!.Window) / 2)
            {
                window = WindowMargin(renewal.Window) / 2;
            }

#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
            delay -= TimeSpan.FromTicks((long)(window.Ticks * Random.Shared.NextDouble()));
#pragma warning restore CA5394
        }

        return delay > MinScheduledDelay ? delay : MinScheduledDelay;
    }

    /// <summary>
    /// The delay from taking a value another instance fetched (a coordinated follower) to checking it again: after the
    /// latest moment the leader's own refresh can fall (nominal delay, no jitter) plus a lag of
    /// <see cref="RefreshingCacheOptions.Jitter"/> and a quarter of the margin left (at most a minute), so that followers
    /// never drive the leader's schedule (each forwarded refresh would pull it earlier) yet act before the value expires
    /// when the leader does not.
    /// </summary>
    public static TimeSpan AfterShared(RefreshingCacheOptions options, DateTimeOffset? expiresAt, DateTimeOffset now, TokenRenewal? renewal = null)
    {
        var delay = Nominal(options, expiresAt, now, renewal);
        var margin = expiresAt is { } e ? e - now - delay : delay;
        var lag = options.Jitter + TimeSpan.FromTicks(Math.Min(margin.Ticks / 4, TimeSpan.FromMinutes(1).Ticks));
        if (lag > margin / 2)
        {
            lag = margin / 2;
        }

        delay += lag > TimeSpan.Zero ? lag : TimeSpan.Zero;
        return delay > MinScheduledDelay ? delay : MinScheduledDelay;
    }

    /// <summary>
    /// Whether the refresh of a value that expires at <paramref name="expiresAt"/> waits for the issuer's renewal window
    /// rather than coming <see cref="RefreshingCacheOptions.RefreshBeforeExpiry"/> ahead: the issuer returns the same token
    /// until <see cref="TokenRenewal.Window"/> before its expiry, and the lead is longer than that, so a fetch on the lead
    /// would bring back the token already held (and the next one too, down to the window: a loop of wasted calls).
    /// </summary>
    public static bool WaitsForRenewalWindow(RefreshingCacheOptions options, DateTimeOffset? expiresAt, TokenRenewal? renewal) =>
        expiresAt is not null
        && renewal is { Kind: TokenRenewalKind.SameUntilWindow } rule
        && options.RefreshBeforeExpiry > rule.Window - WindowMargin(rule.Window);

    /// <summary>
    /// How far inside the issuer's renewal window a refresh that waits for it is placed (a tenth of the window, at most 30 s),
    /// so that network latency and the issuer's rounding of <c>expires_in</c> never land it just before the window.
    /// </summary>
    public static TimeSpan WindowMargin(TimeSpan window)
    {
        var margin = TimeSpan.FromTicks(window.Ticks / 10);
        return margin < TimeSpan.FromSeconds(30) ? margin : TimeSpan.FromSeconds(30);
    }

    private static TimeSpan Nominal(RefreshingCacheOptions options, DateTimeOffset? expiresAt, DateTimeOffset now, TokenRenewal? renewal)
    {
        TimeSpan delay;
        if (expiresAt is { } e)
        {
            var life = e - now;
            var lead = WaitsForRenewalWindow(options, expiresAt, renewal) ? renewal!.Window - WindowMargin(renewal.Window) : options.RefreshBeforeExpiry;
            var ahead = life - lead;
            var half = life / 2;
            delay = ahead > half ? ahead : half;
        }
        else
        {
            delay = options.RefreshInterval;
        }

        return delay;
    }

    /// <summary>
    /// Exponential backoff from RetryInitialDelay to RetryMaxDelay, jittered between half and all of the nominal delay;
    /// a permanent failure waits RetryMaxDelay; a RetryAfter hint is a floor.
    /// </summary>
    public static TimeSpan AfterFailure(RefreshingCacheOptions options, Exception error, int consecutiveFailures)
    {
        var advice = error as IRefreshRetryAdvice;
        TimeSpan delay;
        if (IsPermanent(error))
        {
            delay = options.RetryMaxDelay;
        }
        else
        {
            var exponent = Math.Min(Math.Max(consecutiveFailures, 1) - 1, 30);
            var nominalTicks = Math.Min(options.RetryInitialDelay.Ticks * Math.Pow(2, exponent), options.RetryMaxDelay.Ticks);
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
            delay = TimeSpan.FromTicks((long)(nominalTicks * (0.5 + (0.5 * Random.Shared.NextDouble()))));
#pragma warning restore CA5394
        }

        if (advice?.RetryAfter is { } retryAfter && retryAfter > delay)
        {
            delay = retryAfter;
        }

        return delay;
    }

    /// <summary>When a value fetched at <paramref name="now"/> is withdrawn: at its expiry, or after MaxStaleness for a plain value.</summary>
    public static DateTimeOffset? RetireAt(RefreshingCacheOptions options, DateTimeOffset? expiresAt, DateTimeOffset now) =>
        expiresAt ?? (options.MaxStaleness is { } staleness ? now + staleness : null);

    /// <summary>
    /// Whether a failure is one that retries will not fix (a wrong secret), so readers need not wait for a first value. A
    /// fetch that failed because a cache it reads has no value (a JS-SDK ticket that needs the access token) is as permanent
    /// as that cache's last error; that error's <see cref="IRefreshRetryAdvice.RetryAfter"/> does not carry over (the other
    /// cache may recover sooner).
    /// </summary>
    public static bool IsPermanent(Exception? error) => error switch
    {
        IRefreshRetryAdvice advice => !advice.IsTransient,
        CacheValueUnavailableException { InnerException: { } cause } => IsPermanent(cause),
        _ => false,
    };

    /// <summary>
    /// Whether a failure only says that a pushed ticket has not arrived yet (<see cref="Stores.PushedTicketMissingException"/>,
    /// directly or as the reason a cache this one reads has no value): an expected state, logged once at Information.
    /// </summary>
    public static bool IsAwaitingPushedTicket(Exception? error) => error switch
    {
        Stores.PushedTicketMissingException => true,
        CacheValueUnavailableException { InnerException: { } cause } => IsAwaitingPushedTicket(cause),
        _ => false,
    };

    /// <summary>The message of the innermost cause, for a log line without a stack trace.</summary>
    public static string Describe(Exception error)
    {
        while (error is CacheValueUnavailableException { InnerException: { } cause })
        {
            error = cause;
        }

        return error.Message;
    }

    /// <summary>
    /// Whether <paramref name="error"/> is one more failure because the same other cache still has no value: the dependent
    /// cache said so once already; that cache logs its own failures.
    /// </summary>
    public static bool IsSameDependencyFailure(Exception? previous, Exception error) =>
        error is CacheValueUnavailableException { CacheName: { } name }
        && previous is CacheValueUnavailableException { CacheName: { } before }
        && string.Equals(name, before, StringComparison.Ordinal);
}
