using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Internal;

/// <summary>Validates <see cref="TokenHubOptions"/> at host start.</summary>
internal sealed class TokenHubOptionsValidator : IValidateOptions<TokenHubOptions>
{
    public ValidateOptionsResult Validate(string? name, TokenHubOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var cache = string.IsNullOrEmpty(name) ? "(default)" : name;
        var failures = new List<string>();
        if (options.HubAddress is null || !options.HubAddress.IsAbsoluteUri)
        {
            failures.Add($"TokenHubOptions.HubAddress must be an absolute address (token '{cache}').");
        }

        if (string.IsNullOrWhiteSpace(options.ApiKey))
        {
            failures.Add($"TokenHubOptions.ApiKey is required (token '{cache}').");
        }

        if (string.IsNullOrWhiteSpace(options.ApiKeyHeaderName))
        {
            failures.Add($"TokenHubOptions.ApiKeyHeaderName is required (token '{cache}').");
        }

        if (string.IsNullOrWhiteSpace(options.HttpClientName))
        {
            failures.Add($"TokenHubOptions.HttpClientName must name an IHttpClientFactory client (token '{cache}'); the default is '{TokenHubOptions.DefaultHttpClientName}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
