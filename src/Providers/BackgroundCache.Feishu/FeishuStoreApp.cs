using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.Feishu.Internal;
using BackgroundCache.Stores;

namespace BackgroundCache.Feishu;

/// <summary>
/// One Feishu/Lark store app (商店应用) registered with <c>AddFeishuStoreApp(name, …)</c>: handles the pushes to its event URL
/// (the hourly <c>app_ticket</c>, <c>url_verification</c>), stores the ticket in the
/// <see cref="IPushedTicketStore"/>, and gives access to its <c>app_access_token</c> and to the <c>tenant_access_token</c>s of
/// its tenants by <c>tenant_key</c>. Resolve it as the keyed service of the app's name.
/// </summary>
public sealed class FeishuStoreApp
{
    /// <summary>The most bytes of a push body the event endpoint reads.</summary>
    public const int MaxEventBodyBytes = 64 * 1024;

    /// <summary>
    /// The name of the request option (request property on .NET Framework) that names the tenant whose token
    /// <c>AddFeishuStoreAppTenantTokenHandler(name)</c> attaches; set it with <c>request.SetFeishuTenant(tenantKey)</c>.
    /// </summary>
    public const string TenantKeyOption = "BackgroundCache.Feishu.TenantKey";

    private static readonly TimeSpan PushWaitLimit = TimeSpan.FromSeconds(3);
    private readonly FeishuStoreAppApi _api;
    private readonly IRefreshingCacheSet<string, AccessToken> _tenants;

    internal FeishuStoreApp(FeishuStoreAppApi api, IRefreshingCacheSet<string, AccessToken> tenants)
    {
        _api = api;
        _tenants = tenants;
    }

    /// <summary>Gets the store app's name (the service key of its caches).</summary>
    public string Name => _api.Name;

    /// <summary>Gets the app's App ID.</summary>
    public string AppId => _api.Options.AppId;

    /// <summary>Gets the <c>app_access_token</c> cache.</summary>
    public IRefreshingCache<AccessToken> AppAccessToken => _api.AppToken;

    /// <summary>Gets the tenants' <c>tenant_access_token</c>s, keyed by <c>tenant_key</c>.</summary>
    public IRefreshingCacheSet<string, AccessToken> Tenants => _tenants;

    /// <summary>
    /// Handles one push to the event URL: checks the signature (<c>X-Lark-Signature</c>, when an Encrypt Key is configured),
    /// decrypts the body, checks the Verification Token and the App ID, then acts on it: <c>app_ticket</c> stored (and the
    /// <c>app_access_token</c> fetched at once when there is none or its refreshes fail); <c>url_verification</c> answered
    /// with its challenge. Other events are acknowledged and ignored.
    /// </summary>
    /// <param name="body">The raw POST body.</param>
    /// <param name="timestamp">The <c>X-Lark-Request-Timestamp</c> header, or <see langword="null"/>.</param>
    /// <param name="nonce">The <c>X-Lark-Request-Nonce</c> header, or <see langword="null"/>.</param>
    /// <param name="signature">The <c>X-Lark-Signature</c> header, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the handling.</param>
    /// <returns>The event, once handled.</returns>
    /// <exception cref="FeishuEventRejectedException">The push is forged, for another app, or malformed; nothing was stored.</exception>
    public async Task<FeishuEvent> HandleEventAsync(string body, string? timestamp, string? nonce, string? signature, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        var options = _api.Options;
        var encryptKey = options.EncryptKey;
        var signed = !string.IsNullOrEmpty(signature);
        if (signed && !string.IsNullOrEmpty(encryptKey)
            && !FeishuEventCrypto.SignatureMatches(timestamp ?? string.Empty, nonce ?? string.Empty, encryptKey!, body, signature!))
        {
            throw Reject(FeishuEventRejection.InvalidSignature, "X-Lark-Signature does not match the body.");
        }

        using var message = Open(body, encryptKey);
        var root = message.RootElement;
        var header = root.TryGetProperty("header", out var h) && h.ValueKind == JsonValueKind.Object ? h : default;
        var token = Text(root, "token") ?? Text(header, "token");
        if (!string.Equals(token, options.VerificationToken, StringComparison.Ordinal))
        {
            throw Reject(FeishuEventRejection.InvalidVerificationToken, "the event's token is not the configured Verification Token.");
        }

        var type = Text(root, "type");
        if (type == "url_verification")
        {
            var challenge = Text(root, "challenge") ?? throw Reject(FeishuEventRejection.Malformed, "a url_verification without challenge.");
            return new FeishuEvent(type, null, _api.Time.GetUtcNow(), challenge);
        }

        // Past the URL check, an app with an Encrypt Key accepts signed pushes only.
        if (!signed && !string.IsNullOrEmpty(encryptKey))
        {
            throw Reject(FeishuEventRejection.InvalidSignature, "an event without X-Lark-Signature while an Encrypt Key is configured.");
        }

        var evt = root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
        var eventType = Text(header, "event_type") ?? Text(evt, "type") ?? type ?? string.Empty;
        var appId = Text(header, "app_id") ?? Text(evt, "app_id");
        if (appId is not null && !string.Equals(appId, options.AppId, StringComparison.Ordinal))
        {
            throw Reject(FeishuEventRejection.WrongApp, "the event is for another app.");
        }

        var createdAt = CreatedAt(root, header);
        var tenantKey = Text(header, "tenant_key") ?? Text(evt, "tenant_key");
        if (eventType == "app_ticket")
        {
            var ticket = Text(evt, "app_ticket");
            if (string.IsNullOrEmpty(ticket))
            {
                throw Reject(FeishuEventRejection.Malformed, "an app_ticket event without app_ticket.");
            }

            await ReceiveTicketAsync(ticket!, createdAt, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Log.EventIgnored(_api.Logger, Name, eventType);
        }

        return new FeishuEvent(eventType, tenantKey, createdAt, null);
    }

    /// <summary>
    /// Stores an <c>app_ticket</c> (unless the store holds a newer one) and, when there is no usable <c>app_access_token</c>
    /// or its refreshes are failing, fetches one at once (waiting up to 3 s for it).
    /// </summary>
    /// <param name="ticket">The ticket.</param>
    /// <param name="createdAt">When Feishu created it.</param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns><see langword="true"/> when the ticket was stored.</returns>
    public async Task<bool> ReceiveTicketAsync(string ticket, DateTimeOffset createdAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ticket);
        var fingerprint = AccessToken.ComputeFingerprint(ticket);
        if (!await _api.Tickets.SetTicketAsync(_api.TicketKey, new PushedTicket(ticket, createdAt), cancellationToken).ConfigureAwait(false))
        {
            Log.TicketIgnored(_api.Logger, Name, fingerprint);
            return false;
        }

        Log.TicketReceived(_api.Logger, Name, fingerprint, createdAt);
        var tokens = AppAccessToken;
        if (!tokens.TryGetValue(out _) || tokens.Status.ConsecutiveFailures > 0)
        {
            var refresh = tokens.RefreshAsync(CancellationToken.None);
            _ = refresh.ContinueWith(t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            try
            {
                await refresh.WaitAsync(PushWaitLimit, _api.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // Still running (readers get it when it lands) or failed (reported by the cache).
            }
        }

        return true;
    }

    /// <summary>
    /// Asks Feishu to push the <c>app_ticket</c> now (<c>POST /open-apis/auth/v3/app_ticket/resend</c>); the ticket arrives at
    /// the event URL. The token fetch calls this by itself when no ticket is stored.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns><see langword="true"/> when Feishu accepted the request.</returns>
    public Task<bool> ResendTicketAsync(CancellationToken cancellationToken = default) => _api.ResendTicketAsync(force: true, cancellationToken);

    private static JsonDocument Open(string body, string? encryptKey)
    {
        try
        {
            var outer = JsonDocument.Parse(body);
            if (outer.RootElement.ValueKind != JsonValueKind.Object)
            {
                outer.Dispose();
                throw Reject(FeishuEventRejection.Malformed, "the body is not a JSON object.");
            }

            if (Text(outer.RootElement, "encrypt") is not { } encrypted)
            {
                return outer;
            }

            outer.Dispose();
            if (string.IsNullOrEmpty(encryptKey))
            {
                throw Reject(FeishuEventRejection.Malformed, "an encrypted event, but no EncryptKey is configured.");
            }

            var inner = JsonDocument.Parse(FeishuEventCrypto.Decrypt(encryptKey!, encrypted));
            if (inner.RootElement.ValueKind != JsonValueKind.Object)
            {
                inner.Dispose();
                throw Reject(FeishuEventRejection.Malformed, "the decrypted event is not a JSON object.");
            }

            return inner;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or CryptographicException)
        {
            throw Reject(FeishuEventRejection.Malformed, "the body could not be read or decrypted (" + ex.GetType().Name + ").");
        }
    }

    private static DateTimeOffset? FromUnixMilliseconds(string? text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) && ms is > 0 and < 253_402_300_799_000
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : null;

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static FeishuEventRejectedException Reject(FeishuEventRejection reason, string detail) =>
        new(reason, $"Feishu event refused ({reason}): {detail}");

    private DateTimeOffset CreatedAt(JsonElement root, JsonElement header)
    {
        if (FromUnixMilliseconds(Text(header, "create_time")) is { } created)
        {
            return created;
        }

        // Schema 1.0: "ts" is seconds with a fraction, e.g. "1502199207.7171419".
        if (double.TryParse(Text(root, "ts"), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds is > 0 and < 253_402_300_799)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
        }

        return _api.Time.GetUtcNow();
    }
}
