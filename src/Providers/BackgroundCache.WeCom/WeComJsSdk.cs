using BackgroundCache.Platform;

namespace BackgroundCache.WeCom;

/// <summary>The JS-SDK page signature of WeCom (and WeChat): <c>wx.config</c> and <c>wx.agentConfig</c> both use it.</summary>
public static class WeComJsSdk
{
    /// <summary>
    /// Computes the SHA-1 of <c>jsapi_ticket=…&amp;noncestr=…&amp;timestamp=…&amp;url=…</c> (keys in this order, the URL
    /// without its <c>#</c> fragment), as WeCom's JS-SDK documentation defines it.
    /// </summary>
    /// <param name="ticket">The corp ticket (for <c>wx.config</c>) or the agent ticket (for <c>wx.agentConfig</c>).</param>
    /// <param name="nonce">The random <c>nonceStr</c>.</param>
    /// <param name="timestamp">The Unix timestamp (seconds).</param>
    /// <param name="url">The page's URL; a <c>#</c> fragment is cut off.</param>
    /// <returns>The lower-case hex signature.</returns>
    public static string CreateSignature(string ticket, string nonce, long timestamp, string url) => JsSdkSignature.Create(ticket, nonce, timestamp, url);
}
