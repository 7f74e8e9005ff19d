using BackgroundCache.Platform;

namespace BackgroundCache.WeCom;

/// <summary>
/// The corp's JS-SDK <c>jsapi_ticket</c> (<c>cgi-bin/get_jsapi_ticket</c>), which pages sign <c>wx.config</c> with.
/// <see cref="ToString"/> never prints the ticket.
/// </summary>
/// <param name="Value">The ticket. Treat it as a secret.</param>
/// <param name="ExpiresAt">When it stops being accepted.</param>
public sealed record WeComJsApiTicket(string Value, DateTimeOffset ExpiresAt)
{
    /// <summary>Computes the <c>wx.config</c> signature of a page (<see cref="WeComJsSdk.CreateSignature"/>).</summary>
    /// <param name="nonce">The random <c>nonceStr</c>.</param>
    /// <param name="timestamp">The Unix timestamp (seconds).</param>
    /// <param name="url">The page's URL; a <c>#</c> fragment is cut off.</param>
    /// <returns>The lower-case hex signature.</returns>
    public string CreateSignature(string nonce, long timestamp, string url) => JsSdkSignature.Create(Value, nonce, timestamp, url);

    /// <summary>Returns a description that identifies the ticket by its fingerprint, never by its value.</summary>
    /// <returns>A string such as <c>WeComJsApiTicket { Fingerprint = 1a2b3c4d, ExpiresAt = … }</c>.</returns>
    public override string ToString() => $"WeComJsApiTicket {{ Fingerprint = {AccessToken.ComputeFingerprint(Value)}, ExpiresAt = {ExpiresAt:O} }}";
}
