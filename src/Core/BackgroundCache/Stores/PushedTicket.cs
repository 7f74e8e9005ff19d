namespace BackgroundCache.Stores;

/// <summary>
/// A ticket an issuer pushes to the application at intervals and that its token calls need: WeChat Open Platform's
/// <c>component_verify_ticket</c>, WeCom's <c>suite_ticket</c>, Feishu's <c>app_ticket</c>. <see cref="ToString"/> never
/// prints the ticket.
/// </summary>
/// <param name="Value">The ticket. Treat it as a secret.</param>
/// <param name="CreatedAt">When the issuer created it (the push's own timestamp); a ticket older than the stored one is ignored.</param>
public sealed record PushedTicket(string Value, DateTimeOffset CreatedAt)
{
    /// <summary>Returns a description that identifies the ticket by its fingerprint, never by its value.</summary>
    /// <returns>A string such as <c>PushedTicket { Fingerprint = 1a2b3c4d, CreatedAt = … }</c>.</returns>
    public override string ToString() => $"PushedTicket {{ Fingerprint = {AccessToken.ComputeFingerprint(Value)}, CreatedAt = {CreatedAt:O} }}";
}
