using BackgroundCache.Platform;

namespace BackgroundCache.WeChat;

/// <summary>
/// A JS-SDK <c>jsapi_ticket</c>, which web pages need to sign their JS-SDK configuration.
/// <see cref="ToString"/> never prints the ticket.
/// </summary>
/// <param name="Value">The ticket. Treat it as a secret.</param>
/// <param name="ExpiresAt">When it stops being accepted.</param>
public sealed record WeChatJsApiTicket(string Value, DateTimeOffset ExpiresAt)
{
    /// <summary>
    /// Computes the JS-SDK signature of a page: the SHA-1 of
    /// <c>jsapi_ticket=…&amp;noncestr=…&amp;timestamp=…&amp;url=…</c> as WeChat documents it.
    /// </summary>
    /// <param name="nonce">The random <c>nonceStr</c> the page passes to <c>wx.config</c>.</param>
    /// <param name="timestamp">The Unix timestamp (seconds) the page passes to <c>wx.config</c>.</param>
    /// <param name="url">The page's URL without its <c>#</c> fragment.</param>
    /// <returns>The lower-case hex signature.</returns>
    public string CreateSignature(string nonce, long timestamp, string url) => JsSdkSignature.Create(Value, nonce, timestamp, url);

    /// <summary>Returns a description that identifies the ticket by its fingerprint, never by its value.</summary>
    /// <returns>A string such as <c>WeChatJsApiTicket { Fingerprint = 1a2b3c4d, ExpiresAt = … }</c>.</returns>
    public override string ToString() => $"WeChatJsApiTicket {{ Fingerprint = {AccessToken.ComputeFingerprint(Value)}, ExpiresAt = {ExpiresAt:O} }}";
}
