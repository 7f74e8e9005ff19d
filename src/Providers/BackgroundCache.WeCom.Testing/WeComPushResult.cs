using System.Net;

namespace BackgroundCache.WeCom.Testing;

/// <summary>What an instruction URL answered to a push of the <see cref="WeComEmulator"/>.</summary>
/// <param name="StatusCode">The HTTP status.</param>
/// <param name="Body">The body (WeCom expects <c>success</c>).</param>
public sealed record WeComPushResult(HttpStatusCode StatusCode, string Body);
