namespace BackgroundCache.Stores;

/// <summary>
/// The default <see cref="IPushedTicketStore"/> and <see cref="IRefreshSecretStore"/>: process memory only. Lost on restart
/// and not shared between instances: fine for one instance in development, not for production.
/// </summary>
internal sealed class InMemoryStore : IPushedTicketStore, IRefreshSecretStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, PushedTicket> _tickets = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Scope, string Key), StoredSecret> _secrets = [];

    public ValueTask<PushedTicket?> GetTicketAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            return new(_tickets.TryGetValue(key, out var ticket) ? ticket : null);
        }
    }

    public ValueTask<bool> SetTicketAsync(string key, PushedTicket ticket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(ticket);
        lock (_gate)
        {
            if (_tickets.TryGetValue(key, out var stored) && stored.CreatedAt > ticket.CreatedAt)
            {
                return new(false);
            }

            _tickets[key] = ticket;
            return new(true);
        }
    }

    public ValueTask<StoredSecret?> GetSecretAsync(string scope, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            return new(_secrets.TryGetValue((scope, key), out var secret) ? secret : null);
        }
    }

    public ValueTask<bool> SetSecretAsync(string scope, string key, StoredSecret secret, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(secret);
        lock (_gate)
        {
            if (_secrets.TryGetValue((scope, key), out var stored) && stored.ChangedAt > secret.ChangedAt)
            {
                return new(false);
            }

            _secrets[(scope, key)] = secret;
            return new(true);
        }
    }

    public ValueTask<bool> ReplaceSecretAsync(string scope, string key, string expectedValue, string newValue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(expectedValue);
        ArgumentException.ThrowIfNullOrEmpty(newValue);
        lock (_gate)
        {
            if (!_secrets.TryGetValue((scope, key), out var stored) || !string.Equals(stored.Value, expectedValue, StringComparison.Ordinal))
            {
                return new(false);
            }

            _secrets[(scope, key)] = stored with { Value = newValue };
            return new(true);
        }
    }

    public ValueTask<bool> RemoveSecretAsync(string scope, string key, string? expectedValue = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            if (!_secrets.TryGetValue((scope, key), out var stored) || stored.Value is null
                || (expectedValue is not null && !string.Equals(stored.Value, expectedValue, StringComparison.Ordinal)))
            {
                return new(false);
            }

            _secrets[(scope, key)] = stored with { Value = null };
            return new(true);
        }
    }

    public ValueTask<IReadOnlyCollection<string>> GetKeysAsync(string scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(scope);
        lock (_gate)
        {
            IReadOnlyCollection<string> keys = [.. _secrets.Where(p => p.Key.Scope == scope && p.Value.Value is not null).Select(p => p.Key.Key)];
            return new(keys);
        }
    }
}
