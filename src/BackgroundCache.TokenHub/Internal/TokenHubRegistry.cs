using System.Collections.Frozen;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>The hub's apps as known at registration: names, which keep a JS-SDK ticket, which are emulated.</summary>
internal sealed class TokenHubRegistry
{
    private readonly FrozenDictionary<string, bool> _apps;
    private readonly Dictionary<string, Uri> _emulated = new(StringComparer.Ordinal);

    public TokenHubRegistry(IEnumerable<KeyValuePair<string, bool>> appsWithTicketFlag, bool redisCoordinated, bool legacyApiKeys = false)
    {
        LegacyApiKeys = legacyApiKeys;
        _apps = appsWithTicketFlag.ToFrozenDictionary(StringComparer.Ordinal);
        AppNames = [.. _apps.Keys.Order(StringComparer.Ordinal)];
        RedisCoordinated = redisCoordinated;
    }

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
        if (name == NoAppHealthCheckName)
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

    public bool HasTicket(string name) => _apps.TryGetValue(name, out var ticket) && ticket;

    public bool IsEmulated(string name) => _emulated.ContainsKey(name);

    public Uri? EmulatorAddress(string name) => _emulated.GetValueOrDefault(name);

    public bool AnyEmulated => _emulated.Count > 0;

    /// <summary>Called during registration only (before the container is built), so no locking is needed.</summary>
    public void MarkEmulated(string name, Uri baseAddress) => _emulated[name] = baseAddress;
}
