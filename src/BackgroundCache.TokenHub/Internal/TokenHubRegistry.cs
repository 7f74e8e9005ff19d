using System.Collections.Frozen;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>The hub's apps as known at registration: names, which keep a JS-SDK ticket, which are emulated.</summary>
internal sealed class TokenHubRegistry
{
    private readonly FrozenDictionary<string, bool> _apps;
    private readonly Dictionary<string, Uri> _emulated = new(StringComparer.Ordinal);

    public TokenHubRegistry(IEnumerable<KeyValuePair<string, bool>> appsWithTicketFlag, bool redisCoordinated)
    {
        _apps = appsWithTicketFlag.ToFrozenDictionary(StringComparer.Ordinal);
        AppNames = [.. _apps.Keys.Order(StringComparer.Ordinal)];
        RedisCoordinated = redisCoordinated;
    }

    public IReadOnlyList<string> AppNames { get; }

    public bool RedisCoordinated { get; }

    public bool IsApp(string name) => _apps.ContainsKey(name);

    public bool HasTicket(string name) => _apps.TryGetValue(name, out var ticket) && ticket;

    public bool IsEmulated(string name) => _emulated.ContainsKey(name);

    public Uri? EmulatorAddress(string name) => _emulated.GetValueOrDefault(name);

    public bool AnyEmulated => _emulated.Count > 0;

    /// <summary>Called during registration only (before the container is built), so no locking is needed.</summary>
    public void MarkEmulated(string name, Uri baseAddress) => _emulated[name] = baseAddress;
}
