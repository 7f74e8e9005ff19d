using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Internal;

/// <summary>Validates <see cref="WeChatOptions"/> at host start; messages name the setting and the app.</summary>
internal sealed class WeChatOptionsValidator : IValidateOptions<WeChatOptions>
{
    private const string FormatHint = "A bare number binds as days (\"10\" is 10 days): write durations as [d.]hh:mm:ss, e.g. \"00:10:00\" for 10 minutes.";
    private static readonly TimeSpan MaxBreakerSetting = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, WeChatOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var app = string.IsNullOrEmpty(name) ? "(default)" : name;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AppId))
        {
            failures.Add($"WeChatOptions.AppId is required (WeChat app '{app}').");
        }

        if (string.IsNullOrWhiteSpace(options.AppSecret))
        {
            failures.Add($"WeChatOptions.AppSecret is required (WeChat app '{app}'); keep it in user secrets or an environment variable, never in source.");
        }

        if (options.BaseAddress is null || !options.BaseAddress.IsAbsoluteUri || (options.BaseAddress.Scheme != Uri.UriSchemeHttps && options.BaseAddress.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add($"WeChatOptions.BaseAddress must be an absolute http(s) address (WeChat app '{app}').");
        }

        if (string.IsNullOrWhiteSpace(options.HttpClientName))
        {
            failures.Add($"WeChatOptions.HttpClientName must name an IHttpClientFactory client (WeChat app '{app}'); the default is '{WeChatOptions.DefaultHttpClientName}'.");
        }

        if (!Enum.IsDefined(options.Mode))
        {
            failures.Add($"WeChatOptions.Mode must be StableToken or Token (WeChat app '{app}').");
        }

        if (options.FetchBreakerThreshold < 2)
        {
            failures.Add($"WeChatOptions.FetchBreakerThreshold must be at least 2 (WeChat app '{app}').");
        }

        if (options.FetchBreakerWindow <= TimeSpan.Zero || options.FetchBreakerDuration <= TimeSpan.Zero)
        {
            failures.Add($"WeChatOptions.FetchBreakerWindow and FetchBreakerDuration must be greater than zero (WeChat app '{app}').");
        }

        // WeChat's quotas reset daily: a breaker window or pause beyond a day is a unit mistake ("10" binds as 10 days).
        if (options.FetchBreakerWindow > MaxBreakerSetting)
        {
            failures.Add($"WeChatOptions.FetchBreakerWindow must be at most 1 day (WeChat app '{app}', value {options.FetchBreakerWindow}). {FormatHint}");
        }

        if (options.FetchBreakerDuration > MaxBreakerSetting)
        {
            failures.Add($"WeChatOptions.FetchBreakerDuration must be at most 1 day (WeChat app '{app}', value {options.FetchBreakerDuration}). {FormatHint}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
