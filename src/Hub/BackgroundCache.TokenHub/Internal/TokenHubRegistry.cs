using System.Collections.Frozen;
using BackgroundCache.TokenHub.Internal.Providers;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The hub's apps as known at registration: names, each app's provider, which keep a JS-SDK ticket, which are emulated.
/// An app whose <c>Provider</c> is unknown is not served: start fails and names it (<see cref="UnknownProviders"/>).
/// </summary>
internal sealed class TokenHubRegistry
{
    private readonly FrozenDictionary<string, (HubProvider Provider, bool Ticket)> _apps;
    private readonly Dictionary<string, Uri> _emulated = new(StringComparer.Ordinal);
    private readonly HashSet<string> _healthChecks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<Quota.QuotaWindow>> _quotas = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Microsoft.Extensions.Configuration.IConfigurationSection> _sections = new(StringComparer.Ordinal);

    public TokenHubRegistry(IEnumerable<(string Name, string? Provider, bool Ticket)> apps, bool redisCoordinated, bool legacyApiKeys = false)
    {
        LegacyApiKeys = legacyApiKeys;
        var known = new Dictionary<string, (HubProvider, bool)>(StringComparer.Ordinal);
        var unknown = new List<(string, string)>();
        foreach (var (name, provider, ticket) in apps)
        {
            if (HubProvider.Find(provider) is { } found)
            {
                known[name] = (found, ticket && found.HasTickets);
            }
            else
            {
                unknown.Add((name, provider!));
            }
        }

        _apps = known.ToFrozenDictionary(StringComparer.Ordinal);
        AppNames = [.. _apps.Keys.Order(StringComparer.Ordinal)];
        UnknownProviders = unknown;
        RedisCoordinated = redisCoordinated;
    }

    /// <summary>Apps whose <c>Provider</c> names no provider, with the value given.</summary>
    public IReadOnlyList<(string App, string Provider)> UnknownProviders { get; }

    /// <summary>The health check a hub with no app reports (Development only; elsewhere start refuses).</summary>
    public const string NoAppHealthCheckName = "token-hub:apps";

    /// <summary>What the page, <c>/health</c> and the log say when no app is configured.</summary>
    public const string NoAppMessage = "No app is configured: add one under TokenHub:Apps, e.g. TokenHub:Apps:shop-a:AppId and TokenHub:Apps:shop-a:AppSecret (outside Development the hub refuses to start without one).";

    public IReadOnlyList<string> AppNames { get; }

    public bool RedisCoordinated { get; }

    /// <summary>Gets a value indicating whether the configuration still has the sample's former <c>TokenHub:ApiKeys</c>.</summary>
    public bool LegacyApiKeys { get; }

    /// <summary>The health checks that belong to the hub (its /health lists these, not the rest of a host's).</summary>
    public bool IsHubHealthCheck(string name)
    {
        if (name == NoAppHealthCheckName || _healthChecks.Contains(name))
        {
            return true;
        }

        const string TicketSuffix = ":" + nameof(BackgroundCache.WeChat.WeChatJsApiTicket); // the Redis check of an app's ticket
        if (name.StartsWith("backgroundcache-redis:", StringComparison.Ordinal) && name.EndsWith(TicketSuffix, StringComparison.Ordinal))
        {
            name = name[..^TicketSuffix.Length];
        }

        var colon = name.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && IsApp(name[(colon + 1)..]) && name[..colon] is "token" or "jsapi_ticket" or "backgroundcache-redis";
    }

    public bool IsApp(string name) => _apps.ContainsKey(name);

    public bool HasTicket(string name) => _apps.TryGetValue(name, out var app) && app.Ticket;

    public HubProvider Provider(string name) => _apps[name].Provider;

    /// <summary>The app's configuration section (its provider's keys), as given at registration.</summary>
    public Microsoft.Extensions.Configuration.IConfigurationSection Section(string name) => _sections[name];

    /// <summary>Called during registration only.</summary>
    public void SetSection(string name, Microsoft.Extensions.Configuration.IConfigurationSection section) => _sections[name] = section;

    /// <summary>The app's quota windows (its provider's defaults with <c>Quotas</c> applied).</summary>
    public IReadOnlyList<Quota.QuotaWindow> Quotas(string name) => _quotas.GetValueOrDefault(name) ?? [];

    /// <summary>Called during registration only.</summary>
    public void SetQuotas(string name, IReadOnlyList<Quota.QuotaWindow> windows) => _quotas[name] = windows;

    /// <summary>Called during registration only: a health check that belongs to the hub.</summary>
    public void AddHealthCheck(string name) => _healthChecks.Add(name);

    public bool IsEmulated(string name) => _emulated.ContainsKey(name);

    public Uri? EmulatorAddress(string name) => _emulated.GetValueOrDefault(name);

    public bool AnyEmulated => _emulated.Count > 0;

    /// <summary>Called during registration only (before the container is built), so no locking is needed.</summary>
    public void MarkEmulated(string name, Uri baseAddress) => _emulated[name] = baseAddress;
}
