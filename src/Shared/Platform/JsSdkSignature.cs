using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.Platform;

/// <summary>
/// The JS-SDK page signature that WeChat and WeCom define alike: the SHA-1 of
/// <c>jsapi_ticket=…&amp;noncestr=…&amp;timestamp=…&amp;url=…</c>, the URL without its <c>#</c> fragment.
/// </summary>
internal static class JsSdkSignature
{
    public static string Create(string ticket, string nonce, long timestamp, string url)
    {
        ArgumentException.ThrowIfNullOrEmpty(ticket);
        ArgumentException.ThrowIfNullOrEmpty(nonce);
        ArgumentException.ThrowIfNullOrEmpty(url);
        var hash = url.IndexOf('#', StringComparison.Ordinal);
        var page = hash < 0 ? url : url[..hash];
        var text = $"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={page}";
#pragma warning disable CA5350 // The JS-SDK signature is defined as SHA-1.
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(text)));
#pragma warning restore CA5350
    }
}
