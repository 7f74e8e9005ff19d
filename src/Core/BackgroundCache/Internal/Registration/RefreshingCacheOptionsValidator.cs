using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal;

/// <summary>
/// Validates <see cref="RefreshingCacheOptions"/> at host start; each message names the setting and the cache.
/// </summary>
/// <remarks>
/// Upper bounds catch unit mistakes: a bare number in configuration binds as days (<c>"RefreshInterval": "15"</c> is
/// 15 days, not 15 seconds or minutes). Each bound is far above any sensible value and far below what a number meant as
/// seconds or minutes becomes: a refresh, a jitter or a retry delay of more than a day, or a fetch, a first retry or a
/// start-up wait of more than an hour, is a mistake. <see cref="RefreshingCacheOptions.MaxStaleness"/> has no upper
/// bound: serving a stale value for days is a legitimate choice.
/// </remarks>
internal sealed class RefreshingCacheOptionsValidator : IValidateOptions<RefreshingCacheOptions>
{
    /// <summary>The longest refresh interval, refresh-ahead, jitter and retry delay.</summary>
    public static readonly TimeSpan MaxScheduleSetting = TimeSpan.FromDays(1);

    /// <summary>The longest fetch timeout, first retry delay, initial-load wait and invalidation cooldown.</summary>
    public static readonly TimeSpan MaxWaitSetting = TimeSpan.FromHours(1);

    /// <summary>Says how to write a duration, for messages about a value that is likely a unit mistake.</summary>
    public const string FormatHint = "A bare number binds as days (\"15\" is 15 days): write durations as [d.]hh:mm:ss, e.g. \"00:00:15\" for 15 seconds, \"00:15:00\" for 15 minutes, \"02:00:00\" for 2 hours.";

    public ValidateOptionsResult Validate(string? name, RefreshingCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cache = string.IsNullOrEmpty(name) ? "(default)" : name;
        List<string>? failures = null;

        void Fail(string setting, string rule, object? value) =>
            (failures ??= []).Add($"RefreshingCacheOptions.{setting} {rule} (cache '{cache}', value {value ?? "null"}).");

        void AtMost(string setting, TimeSpan value, TimeSpan bound, string meaning)
        {
            if (value > bound)
            {
                Fail(setting, $"must be at most {Describe(bound)} ({bound}): {meaning} is almost certainly a unit mistake. {FormatHint}", value);
            }
        }

        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            Fail(nameof(options.RefreshInterval), "must be greater than zero", options.RefreshInterval);
        }

        AtMost(nameof(options.RefreshInterval), options.RefreshInterval, MaxScheduleSetting, "a refresh less often than daily");

        if (options.RefreshBeforeExpiry < TimeSpan.Zero)
        {
            Fail(nameof(options.RefreshBeforeExpiry), "must not be negative", options.RefreshBeforeExpiry);
        }

        AtMost(nameof(options.RefreshBeforeExpiry), options.RefreshBeforeExpiry, MaxScheduleSetting, "refreshing more than a day ahead of expiry");

        if (options.Jitter < TimeSpan.Zero)
        {
            Fail(nameof(options.Jitter), "must not be negative", options.Jitter);
        }

        AtMost(nameof(options.Jitter), options.Jitter, MaxScheduleSetting, "a jitter of more than a day");

        if (options.FetchTimeout <= TimeSpan.Zero)
        {
            Fail(nameof(options.FetchTimeout), "must be greater than zero", options.FetchTimeout);
        }

        AtMost(nameof(options.FetchTimeout), options.FetchTimeout, MaxWaitSetting, "a fetch allowed to run for more than an hour");

        if (options.RetryInitialDelay <= TimeSpan.Zero)
        {
            Fail(nameof(options.RetryInitialDelay), "must be greater than zero", options.RetryInitialDelay);
        }

        AtMost(nameof(options.RetryInitialDelay), options.RetryInitialDelay, MaxWaitSetting, "a first retry more than an hour after a failure");

        if (options.RetryMaxDelay < options.RetryInitialDelay)
        {
            Fail(nameof(options.RetryMaxDelay), $"must not be less than RetryInitialDelay ({options.RetryInitialDelay})", options.RetryMaxDelay);
        }

        AtMost(nameof(options.RetryMaxDelay), options.RetryMaxDelay, MaxScheduleSetting, "retrying less often than daily");

        if (options.InitialLoadTimeout <= TimeSpan.Zero)
        {
            Fail(nameof(options.InitialLoadTimeout), "must be greater than zero", options.InitialLoadTimeout);
        }

        AtMost(nameof(options.InitialLoadTimeout), options.InitialLoadTimeout, MaxWaitSetting, "waiting more than an hour for the first value");

        if (options.InvalidationCooldown < TimeSpan.Zero)
        {
            Fail(nameof(options.InvalidationCooldown), "must not be negative", options.InvalidationCooldown);
        }

        AtMost(nameof(options.InvalidationCooldown), options.InvalidationCooldown, MaxWaitSetting, "ignoring reports for more than an hour");

        if (options.MaxStaleness is { } staleness && staleness <= options.RefreshInterval)
        {
            Fail(nameof(options.MaxStaleness), $"must be greater than RefreshInterval ({options.RefreshInterval})", staleness);
        }

        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>"1 day", "1 hour": a bound in words.</summary>
    public static string Describe(TimeSpan bound) =>
        bound.TotalDays >= 1 && bound.TotalDays % 1 == 0 ? (bound.TotalDays == 1 ? "1 day" : $"{bound.TotalDays:0} days")
        : bound.TotalHours == 1 ? "1 hour" : $"{bound.TotalHours:0.##} hours";
}
