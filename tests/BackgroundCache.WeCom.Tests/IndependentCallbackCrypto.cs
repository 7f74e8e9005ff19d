using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.WeCom.Tests;

/// <summary>
/// The callback crypto written from WeCom's description (加解密方案说明), apart from the library's and the emulator's:
/// AES-256-CBC, key = Base64(EncodingAESKey + "="), IV = key[0..16], PKCS#7 padded to 32 bytes, plaintext =
/// random(16) || network-order length(4) || msg || receiveid; signature = SHA-1 of the sorted token, timestamp, nonce, msg.
/// </summary>
internal static class IndependentCallbackCrypto
{
    public static string Encrypt(string encodingAesKey, string receiveId, string message)
    {
        var key = Convert.FromBase64String(encodingAesKey + "=");
        using var stream = new MemoryStream();
        stream.Write(RandomNumberGenerator.GetBytes(16));
        var msg = Encoding.UTF8.GetBytes(message);
        var length = BitConverter.GetBytes(msg.Length);
        if (BitConverter.IsLittleEndian)
        {
            Array.Reverse(length);
        }

        stream.Write(length);
        stream.Write(msg);
        stream.Write(Encoding.UTF8.GetBytes(receiveId));
        var pad = 32 - (int)(stream.Length % 32);
        for (var i = 0; i < pad; i++)
        {
            stream.WriteByte((byte)pad);
        }

        using var aes = Aes.Create();
        aes.Key = key;
        return Convert.ToBase64String(aes.EncryptCbc(stream.ToArray(), key.AsSpan(0, 16), PaddingMode.None));
    }

    public static string Sign(string token, string timestamp, string nonce, string encrypted)
    {
        var sorted = new SortedSet<string>(StringComparer.Ordinal) { token, timestamp, nonce, encrypted };
#pragma warning disable CA5350 // msg_signature is SHA-1.
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(string.Join(string.Empty, sorted)));
#pragma warning restore CA5350
        return string.Concat(hash.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }
}
