namespace BackgroundCache.WeChat;

/// <summary>
/// Which WeChat endpoint issues the access token.
/// </summary>
public enum WeChatTokenMode
{
    /// <summary>
    /// <c>POST /cgi-bin/stable_token</c> (WeChat's recommendation): calls return the same token until its last 5 minutes,
    /// so independent callers do not invalidate each other.
    /// </summary>
    StableToken,

    /// <summary>
    /// Classic <c>GET /cgi-bin/token</c>: every call issues a new token and the previous one dies 5 minutes later, so only
    /// one refresher may exist per app (a central token hub, or Redis coordination).
    /// </summary>
    Token,
}
