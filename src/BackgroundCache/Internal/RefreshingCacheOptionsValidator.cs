using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal;

/// <summary>
/// Validates <see cref="RefreshingCacheOptions"/> at host start; each message names the setting and the cache.
/// </summary>
internal sealed class RefreshingCacheOptionsValidator : IValidateOptions<RefreshingCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, RefreshingCacheOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cache = string.IsNullOrEmpty(name) ? "(default)" : name;
        List<string>? failures = null;

        void Fail(string setting, string rule, object? value) =>
            (failures ??= []).Add($"RefreshingCacheOptions.{setting} {rule} (cache '{cache}', value {value ?? "null"}).");

        if (options.RefreshInterval <= TimeSpan.Zero)
        {
            Fail(nameof(options.RefreshInterval), "must be greater than zero", options.RefreshInterval);
        }

        if (options.RefreshBeforeExpiry < TimeSpan.Zero)
        {
            Fail(nameof(options.RefreshBeforeExpiry), "must not be negative", options.RefreshBeforeExpiry);
        }

        if (options.Jitter < TimeSpan.Zero)
        {
            Fail(nameof(options.Jitter), "must not be negative", options.Jitter);
        }

        if (options.FetchTimeout <= TimeSpan.Zero)
        {
            Fail(nameof(options.FetchTimeout), "must be greater than zero", options.FetchTimeout);
        }

        if (options.RetryInitialDelay <= TimeSpan.Zero)
        {
            Fail(nameof(options.RetryInitialDelay), "must be greater than zero", options.RetryInitialDelay);
        }

        if (options.RetryMaxDelay < options.RetryInitialDelay)
        {
            Fail(nameof(options.RetryMaxDelay), $"must not be less than RetryInitialDelay ({options.RetryInitialDelay})", options.RetryMaxDelay);
        }

        if (options.InitialLoadTimeout <= TimeSpan.Zero)
        {
            Fail(nameof(options.InitialLoadTimeout), "must be greater than zero", options.InitialLoadTimeout);
        }

        if (options.MaxStaleness is { } staleness && staleness <= options.RefreshInterval)
        {
            Fail(nameof(options.MaxStaleness), $"must be greater than RefreshInterval ({options.RefreshInterval})", staleness);
        }

        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
