using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BackgroundCache.Testing;
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

        var (encrypted, timestamp, nonce, signature) = CallbackSeal.SealAndSign(component.Key, component.Token, componentAppId, xml, _options.TimeProvider.GetUtcNow());
        var uri = new UriBuilder(eventUrl) { Query = $"timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={signature}" }.Uri;
        var body = $"<xml><AppId><![CDATA[{componentAppId}]]></AppId><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>";
        var (status, answer) = await CallbackSeal.PostAsync(_pushClient, uri, body, cancellationToken).ConfigureAwait(false);
        return new WeChatPushResult(status, answer);
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
