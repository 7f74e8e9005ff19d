using Microsoft.Extensions.Options;

namespace BackgroundCache.Douyin.Internal;

/// <summary>Validates <see cref="DouyinOptions"/> at host start; messages name the setting and the app.</summary>
internal sealed class DouyinOptionsValidator : IValidateOptions<DouyinOptions>
{
    public ValidateOptionsResult Validate(string? name, DouyinOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var app = string.IsNullOrEmpty(name) ? "(default)" : name;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ClientKey))
        {
            failures.Add($"Douyin:{app}:ClientKey is required (DouyinOptions.ClientKey, the app's AppID).");
        }

        if (string.IsNullOrWhiteSpace(options.ClientSecret))
        {
            failures.Add($"Douyin:{app}:ClientSecret is required (DouyinOptions.ClientSecret); keep it in user secrets or an environment variable, never in source.");
        }

        if (options.BaseAddress is null || !options.BaseAddress.IsAbsoluteUri || (options.BaseAddress.Scheme != Uri.UriSchemeHttps && options.BaseAddress.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add($"Douyin:{app}:BaseAddress must be an absolute http(s) address.");
        }

        if (string.IsNullOrWhiteSpace(options.HttpClientName))
        {
            failures.Add($"Douyin:{app}:HttpClientName must name an IHttpClientFactory client; the default is '{DouyinOptions.DefaultHttpClientName}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
