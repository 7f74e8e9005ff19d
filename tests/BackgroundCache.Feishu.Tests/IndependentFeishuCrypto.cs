using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.Feishu.Tests;

/// <summary>
/// The tests' own Feishu event crypto, written from Feishu's docs without the product's code: AES-256-CBC through a
/// CryptoStream, key SHA-256(Encrypt Key), the IV before the ciphertext; the signature as lowercase hex SHA-256 over
/// timestamp, nonce, Encrypt Key and body.
/// </summary>
internal static class IndependentFeishuCrypto
{
    public static string Encrypt(string encryptKey, string plain, byte[]? iv = null)
    {
        iv ??= RandomNumberGenerator.GetBytes(16);
        using var aes = Aes.Create();
        using var encryptor = aes.CreateEncryptor(SHA256.HashData(Encoding.UTF8.GetBytes(encryptKey)), iv);
        using var output = new MemoryStream();
        output.Write(iv);
        using (var crypto = new CryptoStream(output, encryptor, CryptoStreamMode.Write, leaveOpen: true))
        {
            crypto.Write(Encoding.UTF8.GetBytes(plain));
        }

        return Convert.ToBase64String(output.ToArray());
    }

    public static string Decrypt(string encryptKey, string encrypted)
    {
        var bytes = Convert.FromBase64String(encrypted);
        using var aes = Aes.Create();
        aes.Key = SHA256.HashData(Encoding.UTF8.GetBytes(encryptKey));
        return Encoding.UTF8.GetString(aes.DecryptCbc(bytes.AsSpan(16), bytes.AsSpan(0, 16)));
    }

    public static string Sign(string timestamp, string nonce, string encryptKey, string body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(timestamp));
        hash.AppendData(Encoding.UTF8.GetBytes(nonce));
        hash.AppendData(Encoding.UTF8.GetBytes(encryptKey));
        hash.AppendData(Encoding.UTF8.GetBytes(body));
        return string.Concat(hash.GetHashAndReset().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
