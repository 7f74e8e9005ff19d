namespace BackgroundCache.WeChat;

/// <summary>
/// The <c>component_verify_ticket</c> WeChat pushes to a platform's event URL every 10 minutes (valid 12 hours).
/// <see cref="ToString"/> never prints the ticket.
/// </summary>
/// <param name="Value">The ticket. Treat it as a secret.</param>
/// <param name="CreatedAt">When WeChat issued it (the push's <c>CreateTime</c>); a ticket older than the stored one is ignored.</param>
public sealed record WeChatComponentVerifyTicket(string Value, DateTimeOffset CreatedAt)
{
    /// <summary>Returns a description that identifies the ticket by its fingerprint, never by its value.</summary>
    /// <returns>A string such as <c>WeChatComponentVerifyTicket { Fingerprint = 1a2b3c4d, CreatedAt = … }</c>.</returns>
    public override string ToString() => $"WeChatComponentVerifyTicket {{ Fingerprint = {AccessToken.ComputeFingerprint(Value)}, CreatedAt = {CreatedAt:O} }}";
}
