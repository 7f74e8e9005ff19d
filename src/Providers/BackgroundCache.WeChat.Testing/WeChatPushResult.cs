using System.Net;

namespace BackgroundCache.WeChat.Testing;

/// <summary>The answer of a platform's event URL to a push from the <see cref="WeChatEmulator"/>.</summary>
/// <param name="StatusCode">The HTTP status code.</param>
/// <param name="Body">The body (<c>success</c> for an accepted push).</param>
public sealed record WeChatPushResult(HttpStatusCode StatusCode, string Body)
{
    /// <summary>Gets a value indicating whether the platform accepted the push (HTTP 200, body <c>success</c>).</summary>
    public bool IsSuccess => StatusCode == HttpStatusCode.OK && Body == "success";
}
