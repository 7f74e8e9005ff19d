using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace BackgroundCache.Testing;

/// <summary>
/// The emulators' sealing of callback pushes (WeChat Open Platform, WeCom suites: the same format), written apart from the
/// clients' opening code so that an emulator checks a client instead of agreeing with it by construction.
/// </summary>
internal static class CallbackSeal
{
    /// <summary>The emulator's own sealing: random(16) + length (big-endian) + message + AppId, PKCS#7 to 32 bytes, AES-256-CBC.</summary>
    public static string Seal(byte[] key, string appId, string xml)
    {
        var message = Encoding.UTF8.GetBytes(xml);
        var id = Encoding.UTF8.GetBytes(appId);
        var length = 16 + 4 + message.Length + id.Length;
        var padding = 32 - (length % 32);
        var plain = new byte[length + padding];
        RandomNumberGenerator.Fill(plain.AsSpan(0, 16));
        plain[16] = (byte)(message.Length >> 24);
        plain[17] = (byte)(message.Length >> 16);
        plain[18] = (byte)(message.Length >> 8);
        plain[19] = (byte)message.Length;
        message.CopyTo(plain, 20);
        id.CopyTo(plain, 20 + message.Length);
        plain.AsSpan(length).Fill((byte)padding);

        using var aes = Aes.Create();
        aes.Mode = CipherMode.CBC;
        aes.Padding = PaddingMode.None;
        aes.Key = key;
        aes.IV = key[..16];
        using var encryptor = aes.CreateEncryptor();
        return Convert.ToBase64String(encryptor.TransformFinalBlock(plain, 0, plain.Length));
    }

    public static string Sign(string token, string timestamp, string nonce, string encrypted)
    {
        var parts = new List<string> { token, timestamp, nonce, encrypted };
        parts.Sort(string.CompareOrdinal);
#pragma warning disable CA5350 // The callback msg_signature is SHA-1.
        var hash = SHA1.HashData(Encoding.ASCII.GetBytes(string.Join(string.Empty, parts)));
#pragma warning restore CA5350
        return string.Concat(hash.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    /// <summary>Seals and signs a message at <paramref name="now"/> with a random nonce: what a push or a URL check carries.</summary>
    public static (string Encrypted, string Timestamp, string Nonce, string Signature) SealAndSign(byte[] key, string token, string receiverId, string xml, DateTimeOffset now)
    {
        var encrypted = Seal(key, receiverId, xml);
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var nonce = RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(CultureInfo.InvariantCulture);
        return (encrypted, timestamp, nonce, Sign(token, timestamp, nonce, encrypted));
    }

    /// <summary>Posts an XML body to an event URL and returns its answer.</summary>
    public static async Task<(System.Net.HttpStatusCode Status, string Body)> PostAsync(HttpClient client, Uri url, string body, CancellationToken cancellationToken)
    {
        using var content = new StringContent(body, Encoding.UTF8, "text/xml");
        using var response = await client.PostAsync(url, content, cancellationToken).ConfigureAwait(false);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }
}
