using BackgroundCache.Platform;

namespace BackgroundCache.WeCom;

/// <summary>
/// The app's JS-SDK ticket (<c>cgi-bin/ticket/get?type=agent_config</c>), which pages sign <c>wx.agentConfig</c> with.
/// <see cref="ToString"/> never prints the ticket.
/// </summary>
/// <param name="Value">The ticket. Treat it as a secret.</param>
/// <param name="ExpiresAt">When it stops being accepted.</param>
public sealed record WeComAgentConfigTicket(string Value, DateTimeOffset ExpiresAt)
{
    /// <summary>Computes the <c>wx.agentConfig</c> signature of a page (<see cref="WeComJsSdk.CreateSignature"/>).</summary>
    /// <param name="nonce">The random <c>nonceStr</c>.</param>
    /// <param name="timestamp">The Unix timestamp (seconds).</param>
    /// <param name="url">The page's URL; a <c>#</c> fragment is cut off.</param>
    /// <returns>The lower-case hex signature.</returns>
    public string CreateSignature(string nonce, long timestamp, string url) => JsSdkSignature.Create(Value, nonce, timestamp, url);

    /// <summary>Returns a description that identifies the ticket by its fingerprint, never by its value.</summary>
    /// <returns>A string such as <c>WeComAgentConfigTicket { Fingerprint = 1a2b3c4d, ExpiresAt = … }</c>.</returns>
    public override string ToString() => $"WeComAgentConfigTicket {{ Fingerprint = {AccessToken.ComputeFingerprint(Value)}, ExpiresAt = {ExpiresAt:O} }}";
}
