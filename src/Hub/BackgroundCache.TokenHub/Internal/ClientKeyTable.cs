using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The configured clients, their API keys (as SHA-256 hashes) and the apps each may read. Read once at start.
/// </summary>
internal sealed class ClientKeyTable
{
    private readonly (byte[] Hash, string ClientId)[] _keys;
    private readonly FrozenDictionary<string, ClientEntry> _clients;

    // Keys already proven by a hash comparison, at most one entry per configured key: a request with a known key skips
    // SHA-256 (a sixth of the hub's CPU per request under wrk, issue #24). Looked up with the process's randomized string
    // hash and compared in constant time, so a guess learns nothing from timing unless its 32-bit randomized hash equals a
    // real key's, and even then not how much of it matched.
    private readonly ConcurrentDictionary<string, string> _proven = new(ConstantTimeOrdinal.Instance);

    public ClientKeyTable(IOptions<TokenHubServerOptions> options)
    {
        var value = options.Value;
        Header = value.ApiKeyHeader;
        _keys = [.. value.Clients.SelectMany(c => KeysOf(c.Value).Select(k => (Hash(k), c.Key)))];
        _clients = value.Clients.ToFrozenDictionary(
            c => c.Key,
            c => new ClientEntry(
                c.Key,
                c.Value.Apps.Contains(TokenHubServerOptions.AllApps),
                c.Value.Apps.Where(a => a != TokenHubServerOptions.AllApps).ToFrozenSet(StringComparer.Ordinal),
                KeysOf(c.Value).Count(),
                c.Value.CanForceRefresh),
            StringComparer.Ordinal);
    }

    public string Header { get; }

    public IEnumerable<ClientEntry> Clients => _clients.Values.OrderBy(c => c.Id, StringComparer.Ordinal);

    public static IEnumerable<string> KeysOf(TokenHubClientOptions client) =>
        new[] { client.ApiKey }.Concat(client.ApiKeys).Where(k => !string.IsNullOrWhiteSpace(k)).Select(k => k!).Distinct(StringComparer.Ordinal);

    /// <summary>
    /// Finds the client whose key was presented. Every configured key is compared, in constant time over equal-length
    /// hashes, so neither the answer's timing nor the key's length tells an attacker how close a guess came.
    /// </summary>
    public string? FindClient(string presented)
    {
        if (_proven.TryGetValue(presented, out var proven))
        {
            return proven;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Hash(presented, hash);
        string? found = null;
        foreach (var (key, client) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, key))
            {
                found = client;
            }
        }

        if (found is not null && _proven.Count < _keys.Length)
        {
            _proven.TryAdd(presented, found);
        }

        return found;
    }

    public bool MayForce(string clientId) => _clients.TryGetValue(clientId, out var client) && client.CanForceRefresh;

    public bool MayRead(string clientId, string app) =>
        _clients.TryGetValue(clientId, out var client) && (client.AllApps || client.Apps.Contains(app));

    private static byte[] Hash(string value)
    {
        var hash = new byte[SHA256.HashSizeInBytes];
        Hash(value, hash);
        return hash;
    }

    private static void Hash(string value, Span<byte> destination)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 512)
        {
            Span<byte> bytes = stackalloc byte[max];
            var length = Encoding.UTF8.GetBytes(value, bytes);
            SHA256.HashData(bytes[..length], destination);
        }
        else
        {
            SHA256.HashData(Encoding.UTF8.GetBytes(value), destination);
        }
    }

    /// <summary>Ordinal equality in constant time for equal lengths; the process's randomized string hash.</summary>
    private sealed class ConstantTimeOrdinal : IEqualityComparer<string>
    {
        public static readonly ConstantTimeOrdinal Instance = new();

        public bool Equals(string? x, string? y) =>
            x is not null && y is not null && x.Length == y.Length
            && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(x.AsSpan()), MemoryMarshal.AsBytes(y.AsSpan()));

        public int GetHashCode(string obj) => obj.GetHashCode(StringComparison.Ordinal);
    }

    internal sealed record ClientEntry(string Id, bool AllApps, FrozenSet<string> Apps, int KeyCount, bool CanForceRefresh);
}
