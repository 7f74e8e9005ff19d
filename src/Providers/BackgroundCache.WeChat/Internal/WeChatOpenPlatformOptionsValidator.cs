using BackgroundCache.Platform;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat.Internal;

/// <summary>Validates <see cref="WeChatOpenPlatformOptions"/> at host start; messages name the setting and the platform, never a secret.</summary>
internal sealed class WeChatOpenPlatformOptionsValidator : IValidateOptions<WeChatOpenPlatformOptions>
{
    public ValidateOptionsResult Validate(string? name, WeChatOpenPlatformOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var platform = string.IsNullOrEmpty(name) ? "(default)" : name;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ComponentAppId))
        {
            failures.Add($"WeChatOpenPlatformOptions.ComponentAppId is required (platform '{platform}').");
        }

        if (string.IsNullOrWhiteSpace(options.ComponentAppSecret))
        {
            failures.Add($"WeChatOpenPlatformOptions.ComponentAppSecret is required (platform '{platform}'); keep it in user secrets or an environment variable, never in source.");
        }

        if (string.IsNullOrWhiteSpace(options.Token))
        {
            failures.Add($"WeChatOpenPlatformOptions.Token (the event URL's message-check Token) is required (platform '{platform}').");
        }

        if (WeChatMessageCrypto.DecodeKey(options.EncodingAESKey) is null)
        {
            failures.Add($"WeChatOpenPlatformOptions.EncodingAESKey must be the 43 characters (a-z, A-Z, 0-9) set in the Open Platform console (platform '{platform}').");
        }

        if (options.BaseAddress is null || !options.BaseAddress.IsAbsoluteUri || (options.BaseAddress.Scheme != Uri.UriSchemeHttps && options.BaseAddress.Scheme != Uri.UriSchemeHttp))
        {
            failures.Add($"WeChatOpenPlatformOptions.BaseAddress must be an absolute http(s) address (platform '{platform}').");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
