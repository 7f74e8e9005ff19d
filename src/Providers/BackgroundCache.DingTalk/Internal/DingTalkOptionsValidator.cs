using Microsoft.Extensions.Options;

namespace BackgroundCache.DingTalk.Internal;

/// <summary>Validates <see cref="DingTalkOptions"/> at host start; messages name the setting and the app.</summary>
internal sealed class DingTalkOptionsValidator : IValidateOptions<DingTalkOptions>
{
    public ValidateOptionsResult Validate(string? name, DingTalkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var app = string.IsNullOrEmpty(name) ? "(default)" : name;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AppKey))
        {
            failures.Add($"DingTalk:{app}:AppKey is required (DingTalkOptions.AppKey, also bindable as ClientId).");
        }

        if (string.IsNullOrWhiteSpace(options.AppSecret))
        {
            failures.Add($"DingTalk:{app}:AppSecret is required (DingTalkOptions.AppSecret); keep it in user secrets or an environment variable, never in source.");
        }

        if (!Enum.IsDefined(options.Api))
        {
            failures.Add($"DingTalk:{app}:Api must be New or Legacy.");
        }

        AddIfNotHttp(failures, options.BaseAddress, $"DingTalk:{app}:BaseAddress");
        AddIfNotHttp(failures, options.LegacyBaseAddress, $"DingTalk:{app}:LegacyBaseAddress");
        if (string.IsNullOrWhiteSpace(options.HttpClientName))
        {
            failures.Add($"DingTalk:{app}:HttpClientName must name an IHttpClientFactory client; the default is '{DingTalkOptions.DefaultHttpClientName}'.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void AddIfNotHttp(List<string> failures, Uri? address, string setting)
    {
        if (address is null || !address.IsAbsoluteUri || (address.Scheme != Uri.UriSchemeHttps && address.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add($"{setting} must be an absolute http(s) address.");
        }
    }
}
