using BackgroundCache.TokenHub.Internal.Providers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>In Development, when no client is configured, adds client <c>dev</c> (key <c>dev-key</c>) for every app.</summary>
internal sealed class DevelopmentClientSetup(IServiceProvider services) : IPostConfigureOptions<TokenHubServerOptions>
{
    public void PostConfigure(string? name, TokenHubServerOptions options)
    {
        if (name == Options.DefaultName && options.Clients.Count == 0 && TokenHubOptionsValidator.IsDevelopment(services))
        {
            var client = new TokenHubClientOptions { ApiKey = TokenHubServerOptions.DevelopmentApiKey };
            client.Apps.Add(TokenHubServerOptions.AllApps);
            options.Clients[TokenHubServerOptions.DevelopmentClientId] = client;
        }
    }
}

/// <summary>The hub's rules across settings, checked at start; each failure names the setting to fix.</summary>
internal sealed class TokenHubOptionsValidator(IServiceProvider services, TokenHubRegistry registry) : IValidateOptions<TokenHubServerOptions>
{
    public static bool IsDevelopment(IServiceProvider services) =>
        services.GetService(typeof(IHostEnvironment)) is IHostEnvironment environment && environment.IsDevelopment();

    public ValidateOptionsResult Validate(string? name, TokenHubServerOptions options)
    {
        if (name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var development = IsDevelopment(services);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ApiKeyHeader))
        {
            failures.Add("TokenHub:ApiKeyHeader must name a request header.");
        }

        if (registry.LegacyApiKeys)
        {
            failures.Add("TokenHub:ApiKeys is no longer read: give each caller a client with its own keys and apps, e.g. TokenHub:Clients:{id}:ApiKey (or :ApiKeys) and TokenHub:Clients:{id}:Apps.");
        }

        if (options.Apps.Count == 0 && !development)
        {
            // In Development the hub starts and its page, /health and log say that no app is configured.
            failures.Add("TokenHub:Apps must list at least one WeChat app outside Development (TokenHub:Apps:{name}:AppId and :AppSecret, e.g. TokenHub__Apps__shop-a__AppId=wx… and TokenHub__Apps__shop-a__AppSecret=…).");
        }

        foreach (var (app, provider) in registry.UnknownProviders)
        {
            failures.Add($"TokenHub:Apps:{app}:Provider is '{provider}', which is not a provider of the hub: use one of {HubProvider.AllowedValues} (none means WeChat).");
        }

        foreach (var app in registry.AppNames)
        {
            var emulated = registry.IsEmulated(app);
            if (emulated && !development && !options.UseEmulator)
            {
                failures.Add($"App '{app}' is served by an emulator, which outside Development needs TokenHub:UseEmulator=true (its tokens are not {registry.Provider(app).Issuer} tokens). Configure the app's secret (TokenHub:Apps:{app}) to use {registry.Provider(app).Issuer}.");
            }

            failures.AddRange(registry.Provider(app).Validate(registry.Section(app), app, emulated, development));
            failures.AddRange(Quota.QuotaWindow.Unknown(registry.Section(app).GetSection("Quotas")).Select(key =>
                $"TokenHub:Apps:{app}:Quotas:{key} must name a window ({string.Join(", ", Quota.QuotaWindow.Known.Select(w => w.Name))}) and hold a whole number of calls (0: counted without a limit)."));
        }

        if (options.Clients.Count == 0)
        {
            failures.Add("TokenHub:Clients must configure at least one client outside Development, e.g. TokenHub__Clients__shop__ApiKey=<long random key> and TokenHub__Clients__shop__Apps__0=<app name>.");
        }

        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (client, settings) in options.Clients)
        {
            var keys = ClientKeyTable.KeysOf(settings).ToList();
            if (keys.Count == 0)
            {
                failures.Add($"TokenHub:Clients:{client}:ApiKey (or :ApiKeys) is required.");
            }

            foreach (var key in keys)
            {
                if (owners.TryGetValue(key, out var other))
                {
                    failures.Add($"An API key of TokenHub:Clients:{client} is also a key of TokenHub:Clients:{other}: every key must belong to one client.");
                }
                else
                {
                    owners[key] = client;
                }

                if (!development && key == TokenHubServerOptions.DevelopmentApiKey)
                {
                    failures.Add($"TokenHub:Clients:{client} uses the well-known Development key '{TokenHubServerOptions.DevelopmentApiKey}', which is refused outside Development.");
                }
            }

            if (settings.Apps.Count == 0)
            {
                failures.Add($"TokenHub:Clients:{client}:Apps must list the apps the client may read ('{TokenHubServerOptions.AllApps}' for all).");
            }

            foreach (var app in settings.Apps.Where(a => a != TokenHubServerOptions.AllApps && !options.Apps.ContainsKey(a)))
            {
                failures.Add($"TokenHub:Clients:{client}:Apps names '{app}', which is not an app of TokenHub:Apps ({string.Join(", ", options.Apps.Keys)}).");
            }
        }

        if (options.MaxRequestBodySize <= 0)
        {
            failures.Add($"TokenHub:MaxRequestBodySize must be greater than zero (value {options.MaxRequestBodySize}).");
        }

        if (options.InvalidationPermitLimit <= 0)
        {
            failures.Add($"TokenHub:InvalidationPermitLimit must be greater than zero (value {options.InvalidationPermitLimit}).");
        }

        if (options.SignaturePermitLimit <= 0)
        {
            failures.Add($"TokenHub:SignaturePermitLimit must be greater than zero (value {options.SignaturePermitLimit}).");
        }

        if (options.InvalidationPermitLimitPerApp <= 0)
        {
            failures.Add($"TokenHub:InvalidationPermitLimitPerApp must be greater than zero (value {options.InvalidationPermitLimitPerApp}).");
        }

        if (options.InvalidationWindow <= TimeSpan.Zero)
        {
            failures.Add($"TokenHub:InvalidationWindow must be greater than zero (value {options.InvalidationWindow}).");
        }

        if (options.TimelineLength < 0)
        {
            failures.Add($"TokenHub:TimelineLength must not be negative (value {options.TimelineLength}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
