using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.Feishu.Internal;

/// <summary>
/// Feishu's event crypto: the body <c>{"encrypt": base64}</c> is AES-256-CBC (PKCS#7) with key SHA-256(Encrypt Key) and the
/// IV in the first 16 bytes of the decoded payload; the signature header <c>X-Lark-Signature</c> is the lowercase hex
/// SHA-256 of <c>timestamp + nonce + encryptKey + body</c> (UTF-8).
/// </summary>
internal static class FeishuEventCrypto
{
    public static string Decrypt(string encryptKey, string encrypted)
    {
        var payload = Convert.FromBase64String(encrypted);
        if (payload.Length < 32 || payload.Length % 16 != 0)
        {
            throw new CryptographicException("The encrypted payload is not an IV followed by whole AES blocks.");
        }

        using var aes = Aes.Create();
        aes.Key = Sha256(Encoding.UTF8.GetBytes(encryptKey));
        aes.Mode = CipherMode.CBC;
        aes.Padding = PaddingMode.PKCS7;
        var iv = new byte[16];
        Buffer.BlockCopy(payload, 0, iv, 0, 16);
        aes.IV = iv;
        using var decryptor = aes.CreateDecryptor();
        var plain = decryptor.TransformFinalBlock(payload, 16, payload.Length - 16);
        return Encoding.UTF8.GetString(plain);
    }

    public static string Sign(string timestamp, string nonce, string encryptKey, string body)
    {
        var hash = Sha256(Encoding.UTF8.GetBytes(timestamp + nonce + encryptKey + body));
        var text = new StringBuilder(hash.Length * 2);
        foreach (var b in hash)
        {
            text.Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    public static bool SignatureMatches(string timestamp, string nonce, string encryptKey, string body, string signature)
    {
        var expected = Encoding.ASCII.GetBytes(Sign(timestamp, nonce, encryptKey, body));
        var given = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
        return FixedTimeEquals(expected, given);
    }

    private static bool FixedTimeEquals(byte[] a, byte[] b)
    {
#if NET
        return CryptographicOperations.FixedTimeEquals(a, b);
#else
        if (a.Length != b.Length)
        {
            return false;
        }

        var diff = 0;
        for (var i = 0; i < a.Length; i++)
        {
            diff |= a[i] ^ b[i];
        }

        return diff == 0;
#endif
    }

    private static byte[] Sha256(byte[] data)
    {
#if NET
        return SHA256.HashData(data);
#else
        using var sha = SHA256.Create();
        return sha.ComputeHash(data);
#endif
    }
}
