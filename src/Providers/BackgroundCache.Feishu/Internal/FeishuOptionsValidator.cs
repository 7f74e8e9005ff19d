using Microsoft.Extensions.Options;

namespace BackgroundCache.Feishu.Internal;

/// <summary>Validates <see cref="FeishuOptions"/> and <see cref="FeishuStoreAppOptions"/> at host start; messages name the setting.</summary>
internal sealed class FeishuOptionsValidator : IValidateOptions<FeishuOptions>, IValidateOptions<FeishuStoreAppOptions>
{
    public ValidateOptionsResult Validate(string? name, FeishuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        CheckCommon("Feishu", name, options.AppId, options.AppSecret, options.BaseAddress, options.HttpClientName, failures);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public ValidateOptionsResult Validate(string? name, FeishuStoreAppOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var prefix = "FeishuStoreApp";
        CheckCommon(prefix, name, options.AppId, options.AppSecret, options.BaseAddress, options.HttpClientName, failures);
        if (string.IsNullOrWhiteSpace(options.VerificationToken))
        {
            failures.Add($"{prefix}:{Display(name)}:VerificationToken is required (event subscription › Encryption strategy › Verification Token).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckCommon(string prefix, string? name, string appId, string appSecret, Uri baseAddress, string httpClientName, List<string> failures)
    {
        var app = Display(name);
        if (string.IsNullOrWhiteSpace(appId))
        {
            failures.Add($"{prefix}:{app}:AppId is required (the app's App ID, cli_…).");
        }

        if (string.IsNullOrWhiteSpace(appSecret))
        {
            failures.Add($"{prefix}:{app}:AppSecret is required; keep it in user secrets or an environment variable, never in source.");
        }

        if (baseAddress is null || !baseAddress.IsAbsoluteUri || (baseAddress.Scheme != Uri.UriSchemeHttps && baseAddress.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add($"{prefix}:{app}:BaseAddress must be an absolute http(s) address (https://open.feishu.cn/ or https://open.larksuite.com/).");
        }

        if (string.IsNullOrWhiteSpace(httpClientName))
        {
            failures.Add($"{prefix}:{app}:HttpClientName must name an IHttpClientFactory client; the default is '{FeishuOptions.DefaultHttpClientName}'.");
        }
    }

    private static string Display(string? name) => string.IsNullOrEmpty(name) ? "(default)" : name!;
}
