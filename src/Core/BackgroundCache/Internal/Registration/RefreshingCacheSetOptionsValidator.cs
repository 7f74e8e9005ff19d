using Microsoft.Extensions.Options;

namespace BackgroundCache.Internal;

/// <summary>
/// Validates <see cref="RefreshingCacheSetOptions"/> at host start; each message names the setting and the set.
/// </summary>
internal sealed class RefreshingCacheSetOptionsValidator : IValidateOptions<RefreshingCacheSetOptions>
{
    public ValidateOptionsResult Validate(string? name, RefreshingCacheSetOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var set = string.IsNullOrEmpty(name) ? "(default)" : name;
        List<string>? failures = null;
        if (options.MaxConcurrentFetches < 1)
        {
            (failures ??= []).Add($"RefreshingCacheSetOptions.MaxConcurrentFetches must be at least 1 (set '{set}', value {options.MaxConcurrentFetches}).");
        }

        if (options.EvictAfterIdle is { } idle && idle < TimeSpan.FromSeconds(1))
        {
            (failures ??= []).Add($"RefreshingCacheSetOptions.EvictAfterIdle must be at least one second when set (set '{set}', value {idle}).");
        }

        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
