using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.Platform;

/// <summary>
/// WeChat's callback message crypto (消息加解密), receiving side: <c>msg_signature</c> = SHA-1 of the sorted, concatenated
/// Token, timestamp, nonce and Encrypt; AES-256-CBC with key = Base64(EncodingAESKey + "="), IV = the key's first 16 bytes,
/// PKCS#7 padding to a 32-byte block; plaintext = 16 random bytes + 4-byte big-endian length + message + AppId.
/// </summary>
internal static class WeChatMessageCrypto
{
    public const int EncodingAesKeyLength = 43;
    private const int PadBlock = 32;

    /// <summary>Decodes an EncodingAESKey into the 32-byte AES key; null when it is not 43 Base64 characters.</summary>
    public static byte[]? DecodeKey(string? encodingAesKey)
    {
        if (encodingAesKey is null || encodingAesKey.Length != EncodingAesKeyLength)
        {
            return null;
        }

        try
        {
            var key = Convert.FromBase64String(encodingAesKey + "=");
            return key.Length == 32 ? key : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public static string ComputeSignature(string token, string timestamp, string nonce, string encrypted)
    {
        string[] parts = [token, timestamp, nonce, encrypted];
        Array.Sort(parts, StringComparer.Ordinal);
#pragma warning disable CA5350 // WeChat defines msg_signature as SHA-1.
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(string.Concat(parts))));
#pragma warning restore CA5350
    }

    public static bool VerifySignature(string token, string timestamp, string nonce, string encrypted, string signature)
    {
        var expected = Encoding.ASCII.GetBytes(ComputeSignature(token, timestamp, nonce, encrypted));
        var given = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
        return FixedTimeEquals(expected, given);
    }

    /// <summary>Decrypts a message; returns null with the reason when it is not a well-formed WeChat ciphertext.</summary>
    public static (string? Message, string? AppId, string? Problem) Decrypt(byte[] key, string encrypted)
    {
        byte[] cipher;
        try
        {
            cipher = Convert.FromBase64String(encrypted);
        }
        catch (FormatException)
        {
            return (null, null, "Encrypt is not Base64");
        }

        if (cipher.Length == 0 || cipher.Length % 16 != 0)
        {
            return (null, null, "Encrypt is not a whole number of AES blocks");
        }

        byte[] plain;
        using (var aes = Aes.Create())
        {
            aes.Key = key;
            aes.IV = key.AsSpan(0, 16).ToArray();
            aes.Mode = CipherMode.CBC;
            aes.Padding = PaddingMode.None; // WeChat pads to 32 bytes (PKCS#7 with a 32-byte block): checked below
            using var decryptor = aes.CreateDecryptor();
            plain = decryptor.TransformFinalBlock(cipher, 0, cipher.Length);
        }

        int pad = plain[plain.Length - 1];
        if (pad is < 1 or > PadBlock || pad > plain.Length)
        {
            return (null, null, "the padding is invalid (wrong EncodingAESKey?)");
        }

        var content = plain.AsSpan(0, plain.Length - pad);
        if (content.Length < 20)
        {
            return (null, null, "the plaintext is too short");
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(content.Slice(16, 4));
        if (length < 0 || 20 + length > content.Length)
        {
            return (null, null, "the message length is invalid (wrong EncodingAESKey?)");
        }

        try
        {
            var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
            var bytes = content.ToArray();
            var message = strict.GetString(bytes, 20, length);
            var appId = strict.GetString(bytes, 20 + length, bytes.Length - 20 - length);
            return (message, appId, null);
        }
        catch (DecoderFallbackException)
        {
            return (null, null, "the plaintext is not UTF-8 (wrong EncodingAESKey?)");
        }
    }

    /// <summary>Compares in time that depends on the length only (CryptographicOperations.FixedTimeEquals, on every target).</summary>
    private static bool FixedTimeEquals(byte[] left, byte[] right)
    {
        if (left.Length != right.Length)
        {
            return false;
        }

        var difference = 0;
        for (var i = 0; i < left.Length; i++)
        {
            difference |= left[i] ^ right[i];
        }

        return difference == 0;
    }
}
