using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>Open Platform pushes: messages built as WeChat builds them, sealed with the emulator's own crypto, and sent to a platform's event URL.</summary>
public sealed partial class WeChatEmulator
{
    /// <summary>
    /// Seals <paramref name="xml"/> for the platform (AES-256-CBC, WeChat's layout) and posts it to the event URL with a
    /// valid <c>msg_signature</c>: for pushes of other InfoTypes.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="xml">The plaintext message.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer.</returns>
    public async Task<WeChatPushResult> PushAsync(string componentAppId, Uri eventUrl, string xml, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(eventUrl);
        ArgumentNullException.ThrowIfNull(xml);
        ComponentState component;
        lock (_gate)
        {
            component = Component(componentAppId);
        }

        var encrypted = Seal(component.Key, componentAppId, xml);
        var timestamp = _options.TimeProvider.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var nonce = RandomNumberGenerator.GetInt32(100_000_000, int.MaxValue).ToString(CultureInfo.InvariantCulture);
        var signature = Sign(component.Token, timestamp, nonce, encrypted);
        var uri = new UriBuilder(eventUrl)
        {
            Query = $"timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={signature}",
        }.Uri;
        var body = $"<xml><AppId><![CDATA[{componentAppId}]]></AppId><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>";
        using var content = new StringContent(body, Encoding.UTF8, "text/xml");
        using var response = await _pushClient.PostAsync(uri, content, cancellationToken).ConfigureAwait(false);
        return new WeChatPushResult(response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Builds a push message as WeChat does: AppId, CreateTime (emulator clock), InfoType, then the given elements.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="infoType">The InfoType.</param>
    /// <param name="elements">The other elements.</param>
    /// <returns>The plaintext XML.</returns>
    public string Message(string componentAppId, string infoType, params (string Name, string Value)[] elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        var xml = new StringBuilder("<xml>");
        xml.Append(CultureInfo.InvariantCulture, $"<AppId><![CDATA[{componentAppId}]]></AppId>");
        xml.Append(CultureInfo.InvariantCulture, $"<CreateTime>{_options.TimeProvider.GetUtcNow().ToUnixTimeSeconds()}</CreateTime>");
        xml.Append(CultureInfo.InvariantCulture, $"<InfoType><![CDATA[{infoType}]]></InfoType>");
        foreach (var (name, value) in elements)
        {
            xml.Append(CultureInfo.InvariantCulture, $"<{name}><![CDATA[{value}]]></{name}>");
        }

        return xml.Append("</xml>").ToString();
    }

    /// <summary>The emulator's own sealing: random(16) + length (big-endian) + message + AppId, PKCS#7 to 32 bytes, AES-256-CBC.</summary>
    private static string Seal(byte[] key, string appId, string xml)
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

    private static string Sign(string token, string timestamp, string nonce, string encrypted)
    {
        var parts = new List<string> { token, timestamp, nonce, encrypted };
        parts.Sort(string.CompareOrdinal);
#pragma warning disable CA5350 // WeChat's msg_signature is SHA-1.
        var hash = SHA1.HashData(Encoding.ASCII.GetBytes(string.Join(string.Empty, parts)));
#pragma warning restore CA5350
        return string.Concat(hash.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
    }

    private async Task PushQuietlyAsync(string componentAppId, Uri eventUrl)
    {
        try
        {
            await PushComponentVerifyTicketAsync(componentAppId, eventUrl).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or ObjectDisposedException)
        {
            // WeChat does not care whether a scheduled push was received: the next one comes anyway.
        }
    }

    private async Task StopPushesAsync()
    {
        Task[] pending;
        lock (_gate)
        {
            _pushesStopped = true;
            foreach (var timer in _pushTimers)
            {
                timer.Dispose();
            }

            pending = [.. _pushes];
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        _pushClient.Dispose();
    }
}
