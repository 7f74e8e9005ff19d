using Microsoft.Extensions.Options;

namespace BackgroundCache.OAuth.Internal;

/// <summary>
/// Validates the <see cref="ClientCredentialsOptions"/> of one cache (<paramref name="name"/>) at start; every message
/// names the setting at fault and never holds its value.
/// </summary>
internal sealed class ClientCredentialsOptionsValidator(string name) : IValidateOptions<ClientCredentialsOptions>
{
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal)
    {
        "grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "resource",
    };

    public ValidateOptionsResult Validate(string? name1, ClientCredentialsOptions options)
    {
        if (!string.Equals(name1 ?? string.Empty, name, StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = Check(name, options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    public static List<string> Check(string name, ClientCredentialsOptions options)
    {
        var failures = new List<string>();
        var prefix = $"Client credentials token '{name}': ";
        if (options.TokenEndpoint is null == options.Authority is null)
        {
            failures.Add(prefix + "set either TokenEndpoint or Authority (OpenID Connect discovery), not both and not neither.");
        }

        CheckUri(options.TokenEndpoint, nameof(options.TokenEndpoint));
        CheckUri(options.Authority, nameof(options.Authority));
        if (string.IsNullOrWhiteSpace(options.ClientId))
        {
            failures.Add(prefix + "ClientId is required.");
        }

        switch (options.ClientAuthentication)
        {
            case ClientAuthenticationMethod.BasicHeader or ClientAuthenticationMethod.RequestBody:
                if (string.IsNullOrEmpty(options.ClientSecret))
                {
                    failures.Add(prefix + $"ClientSecret is required when ClientAuthentication is {options.ClientAuthentication}.");
                }

                break;
            case ClientAuthenticationMethod.PrivateKeyJwt:
                if (options.PrivateKey is null && options.Certificate is null)
                {
                    failures.Add(prefix + "PrivateKey (PEM) or Certificate is required when ClientAuthentication is PrivateKeyJwt.");
                }
                else if (options.PrivateKey is not null && options.Certificate is not null)
                {
                    failures.Add(prefix + "set PrivateKey or Certificate, not both.");
                }
                else if (ClientAssertion.Validate(options) is { } problem)
                {
                    failures.Add(prefix + problem);
                }

                if (options.ClientAssertionLifetime <= TimeSpan.Zero)
                {
                    failures.Add(prefix + "ClientAssertionLifetime must be positive.");
                }

                break;
            default:
                failures.Add(prefix + "ClientAuthentication must be BasicHeader, RequestBody or PrivateKeyJwt.");
                break;
        }

        if (!string.IsNullOrWhiteSpace(options.Resource) && !Uri.TryCreate(options.Resource, UriKind.Absolute, out _))
        {
            failures.Add(prefix + "Resource must be an absolute URI (RFC 8707).");
        }

        foreach (var key in options.Parameters.Keys)
        {
            if (Reserved.Contains(key))
            {
                failures.Add(prefix + $"Parameters may not set '{key}': use the option of its own (Scope, Resource, ClientId, ClientSecret, ClientAuthentication).");
            }
        }

        if (string.IsNullOrWhiteSpace(options.HttpClientName))
        {
            failures.Add(prefix + "HttpClientName must not be empty.");
        }

        if (options.DefaultLifetime <= TimeSpan.Zero)
        {
            failures.Add(prefix + "DefaultLifetime must be positive.");
        }

        if (options.DiscoveryCacheDuration <= TimeSpan.Zero)
        {
            failures.Add(prefix + "DiscoveryCacheDuration must be positive.");
        }

        return failures;

        void CheckUri(Uri? uri, string setting)
        {
            if (uri is not null && (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)))
            {
                failures.Add(prefix + $"{setting} must be an absolute http(s) URI.");
            }
        }
    }
}
