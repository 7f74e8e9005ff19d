using BackgroundCache.Platform;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeCom.Internal;

/// <summary>Validates <see cref="WeComSuiteOptions"/> at host start; messages name the setting and the suite.</summary>
internal sealed class WeComSuiteOptionsValidator : IValidateOptions<WeComSuiteOptions>
{
    public ValidateOptionsResult Validate(string? name, WeComSuiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var prefix = $"WeComSuite:{(string.IsNullOrEmpty(name) ? "(default)" : name)}";
        var failures = new List<string>();
        foreach (var (setting, value) in new[] { ("SuiteId", options.SuiteId), ("SuiteSecret", options.SuiteSecret), ("Token", options.Token) })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                failures.Add($"{prefix}:{setting} is required (WeComSuiteOptions.{setting}).");
            }
        }

        if (WeChatMessageCrypto.DecodeKey(options.EncodingAESKey) is null)
        {
            failures.Add($"{prefix}:EncodingAESKey must be the 43 Base64 characters set in the WeCom console (WeComSuiteOptions.EncodingAESKey).");
        }

        failures.AddRange(WeComOptionsValidator.ValidateEndpoint(options.BaseAddress, options.HttpClientName, prefix));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
