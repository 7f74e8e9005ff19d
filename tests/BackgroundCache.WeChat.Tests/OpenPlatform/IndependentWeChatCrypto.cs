using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.WeChat.Tests.OpenPlatform;

/// <summary>
/// WeChat's callback message crypto written from the documented scheme alone (消息加解密技术方案), with
/// System.Security.Cryptography and nothing from the library or the emulator: AESKey = Base64_Decode(EncodingAESKey + "=");
/// msg_encrypt = Base64_Encode(AES_CBC(random(16B) + msg_len(4B, network order) + msg + AppId, PKCS#7 to 32 bytes),
/// IV = AESKey[0..16]); msg_signature = SHA1(sort(Token, timestamp, nonce, msg_encrypt) joined), lower-case hex.
/// </summary>
internal static class IndependentWeChatCrypto
{
    public static string Encrypt(string encodingAesKey, string appId, string message, byte[]? random = null)
    {
        var aesKey = Convert.FromBase64String(encodingAesKey + "=");
        random ??= RandomNumberGenerator.GetBytes(16);
        var msg = Encoding.UTF8.GetBytes(message);
        var id = Encoding.UTF8.GetBytes(appId);
        var networkOrderLength = BitConverter.GetBytes(System.Net.IPAddress.HostToNetworkOrder(msg.Length));
        var text = random.Concat(networkOrderLength).Concat(msg).Concat(id).ToList();

        // PKCS#7 to a multiple of 32 bytes: n bytes of value n, 1 <= n <= 32.
        var amountToPad = 32 - (text.Count % 32);
        text.AddRange(Enumerable.Repeat((byte)amountToPad, amountToPad));

        using var aes = Aes.Create();
        aes.KeySize = 256;
        aes.Key = aesKey;
        return Convert.ToBase64String(aes.EncryptCbc(text.ToArray(), aesKey.AsSpan(0, 16), PaddingMode.None));
    }

    public static string Signature(string token, string timestamp, string nonce, string encrypted)
    {
        var sorted = new SortedSet<string>(StringComparer.Ordinal) { token, timestamp, nonce, encrypted };
#pragma warning disable CA5350, CA1850, CA1872 // SHA-1 is WeChat's; written differently from the library on purpose.
        using var sha1 = SHA1.Create();
        var digest = sha1.ComputeHash(Encoding.UTF8.GetBytes(string.Join(string.Empty, sorted)));
        return BitConverter.ToString(digest).Replace("-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
#pragma warning restore CA5350, CA1850, CA1872
    }

    public static string Envelope(string appId, string encrypted) =>
        $"<xml>\n<AppId><![CDATA[{appId}]]></AppId>\n<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n</xml>";
}
