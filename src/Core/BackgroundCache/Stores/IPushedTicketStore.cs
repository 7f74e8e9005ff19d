namespace BackgroundCache.Stores;

/// <summary>
/// Durable store of pushed tickets (<see cref="PushedTicket"/>), one per key (the provider chooses the key, e.g.
/// <c>wechat:open:{component_appid}:ticket</c>). Shared by every instance of an application, because the issuer pushes
/// to one of them. Implementations must be thread-safe and never replace a ticket by an older one.
/// </summary>
/// <remarks>
/// The core registers an in-memory store (<c>services.AddInMemoryStores()</c>; lost on restart, one process only); the
/// Redis package provides a shared one (<c>services.AddRedisStore(…)</c>); a store of your own (a database) is registered
/// as a singleton <see cref="IPushedTicketStore"/>.
/// </remarks>
public interface IPushedTicketStore
{
    /// <summary>Gets the latest ticket stored under a key, or <see langword="null"/> when none has been received.</summary>
    /// <param name="key">The ticket's key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The ticket, or <see langword="null"/>.</returns>
    ValueTask<PushedTicket?> GetTicketAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a ticket unless the stored one is newer (<see cref="PushedTicket.CreatedAt"/>), atomically, so a delayed or
    /// replayed push never replaces a newer ticket.
    /// </summary>
    /// <param name="key">The ticket's key.</param>
    /// <param name="ticket">The ticket.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns><see langword="true"/> when the ticket was stored; <see langword="false"/> when a newer one is kept.</returns>
    ValueTask<bool> SetTicketAsync(string key, PushedTicket ticket, CancellationToken cancellationToken = default);
}
