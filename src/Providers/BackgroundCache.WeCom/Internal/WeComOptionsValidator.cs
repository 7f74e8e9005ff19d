using Microsoft.Extensions.Options;

namespace BackgroundCache.WeCom.Internal;

/// <summary>Validates <see cref="WeComOptions"/> at host start; messages name the setting and the app.</summary>
internal sealed class WeComOptionsValidator : IValidateOptions<WeComOptions>
{
    public ValidateOptionsResult Validate(string? name, WeComOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var app = string.IsNullOrEmpty(name) ? "(default)" : name;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.CorpId))
        {
            failures.Add($"WeCom:{app}:CorpId is required (WeComOptions.CorpId).");
        }

        if (string.IsNullOrWhiteSpace(options.CorpSecret))
        {
            failures.Add($"WeCom:{app}:CorpSecret is required (WeComOptions.CorpSecret, the app's secret); keep it in user secrets or an environment variable, never in source.");
        }

        if (options.AgentId is <= 0)
        {
            failures.Add($"WeCom:{app}:AgentId must be a positive number when set (WeComOptions.AgentId).");
        }

        failures.AddRange(ValidateEndpoint(options.BaseAddress, options.HttpClientName, $"WeCom:{app}"));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static IEnumerable<string> ValidateEndpoint(Uri? baseAddress, string? httpClientName, string prefix)
    {
        if (baseAddress is null || !baseAddress.IsAbsoluteUri || (baseAddress.Scheme != Uri.UriSchemeHttps && baseAddress.Scheme != Uri.UriSchemeHttp))
        {
            yield return $"{prefix}:BaseAddress must be an absolute http(s) address.";
        }

        if (string.IsNullOrWhiteSpace(httpClientName))
        {
            yield return $"{prefix}:HttpClientName must name an IHttpClientFactory client; the default is '{WeComOptions.DefaultHttpClientName}'.";
        }
    }
}
