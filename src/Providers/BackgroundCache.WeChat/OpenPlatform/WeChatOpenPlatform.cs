using System.Globalization;
using System.Xml.Linq;
using BackgroundCache.Platform;
using BackgroundCache.Stores;
using BackgroundCache.WeChat.Internal;

namespace BackgroundCache.WeChat;

/// <summary>
/// One WeChat Open Platform third-party platform registered with <c>AddWeChatOpenPlatform(name, …)</c>: handles the pushes
/// to its event URL, exchanges authorization codes, builds the authorization page link, and removes authorizers.
/// Resolve it as the keyed service of the platform's name. Its tokens are read from the keyed
/// <see cref="IRefreshingCache{T}"/> of <see cref="AccessToken"/> (component token) and
/// <see cref="IRefreshingCacheSet{TKey, T}"/> of <see cref="string"/> and <see cref="AccessToken"/> (authorizer tokens by
/// authorizer AppId).
/// </summary>
public sealed class WeChatOpenPlatform
{
    /// <summary>The most bytes of a push body the event endpoint reads; WeChat's pushes are well under 4 KiB.</summary>
    public const int MaxEventBodyBytes = 64 * 1024;

    /// <summary>
    /// The name of the request option (request property on .NET Framework) that names the authorizer whose token
    /// <c>AddWeChatAuthorizerAccessTokenHandler(name)</c> attaches; set it with
    /// <c>request.SetWeChatAuthorizer(appId)</c>.
    /// </summary>
    public const string AuthorizerAppIdOption = "BackgroundCache.WeChat.AuthorizerAppId";

    /// <summary>How long handling a push waits for the fetch it started.</summary>
    private static readonly TimeSpan PushWaitLimit = TimeSpan.FromSeconds(3);

    private static readonly Uri DesktopAuthorizationPage = new("https://mp.weixin.qq.com/cgi-bin/componentloginpage");
    private static readonly Uri MobileAuthorizationPage = new("https://open.weixin.qq.com/wxaopen/safe/bindcomponent");
    private readonly WeChatComponentApi _api;
    private readonly WeChatAuthorizerTokenSource _authorizers;

    internal WeChatOpenPlatform(WeChatComponentApi api, WeChatAuthorizerTokenSource authorizers)
    {
        _api = api;
        _authorizers = authorizers;
    }

    /// <summary>Gets the platform's name (the service key of its caches).</summary>
    public string Name => _api.Name;

    /// <summary>Gets the platform's AppId (<c>component_appid</c>).</summary>
    public string ComponentAppId => _api.Options.ComponentAppId;

    /// <summary>Gets the component token cache (<c>component_access_token</c>).</summary>
    public IRefreshingCache<AccessToken> ComponentToken => _api.ComponentToken;

    /// <summary>Gets the authorizer tokens (<c>authorizer_access_token</c>), keyed by authorizer AppId.</summary>
    public IRefreshingCacheSet<string, AccessToken> Authorizers => _api.Authorizers;

    /// <summary>
    /// Handles one push to the event URL: verifies <c>msg_signature</c>, decrypts the message, checks that it was sealed for
    /// this platform, then acts on it (<c>component_verify_ticket</c>: stored, and the component token fetched at once if
    /// there is none; <c>authorized</c>/<c>updateauthorized</c>: the code exchanged, the refresh token stored, the authorizer
    /// added; <c>unauthorized</c>: the authorizer removed). Other InfoTypes are acknowledged and ignored.
    /// </summary>
    /// <param name="msgSignature">The <c>msg_signature</c> query parameter.</param>
    /// <param name="timestamp">The <c>timestamp</c> query parameter.</param>
    /// <param name="nonce">The <c>nonce</c> query parameter.</param>
    /// <param name="body">The POST body (XML with <c>Encrypt</c>).</param>
    /// <param name="cancellationToken">Cancels the handling.</param>
    /// <returns>The push, once handled; answer WeChat with the plain text <c>success</c>.</returns>
    /// <exception cref="WeChatEventRejectedException">The push is forged, for another platform, or malformed; nothing was stored.</exception>
    /// <exception cref="WeChatApiException">A valid authorization push whose code could not be exchanged (answer a 5xx so WeChat pushes again).</exception>
    public async Task<WeChatOpenPlatformEvent> HandleEventAsync(string msgSignature, string timestamp, string nonce, string body, CancellationToken cancellationToken = default)
    {
        var message = Open(msgSignature, timestamp, nonce, body);
        var infoType = Element(message, "InfoType");
        var createdAt = long.TryParse(Element(message, "CreateTime"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(Math.Min(seconds, 253_402_300_799))
            : _api.Time.GetUtcNow();
        switch (infoType)
        {
            case "component_verify_ticket":
                var ticket = Element(message, "ComponentVerifyTicket");
                if (string.IsNullOrEmpty(ticket))
                {
                    throw Reject(WeChatEventRejection.Malformed, "a component_verify_ticket push without ComponentVerifyTicket.");
                }

                await ReceiveTicketAsync(new WeChatComponentVerifyTicket(ticket, createdAt), cancellationToken).ConfigureAwait(false);
                return new WeChatOpenPlatformEvent(infoType, null, createdAt);

            case "authorized" or "updateauthorized":
                var code = Element(message, "AuthorizationCode");
                if (string.IsNullOrEmpty(code))
                {
                    throw Reject(WeChatEventRejection.Malformed, $"an {infoType} push without AuthorizationCode.");
                }

                var authorizer = await AuthorizeByPushAsync(infoType, Element(message, "AuthorizerAppid"), code, createdAt, cancellationToken).ConfigureAwait(false);
                return new WeChatOpenPlatformEvent(infoType, authorizer, createdAt);

            case "unauthorized":
                var appId = Element(message, "AuthorizerAppid");
                if (string.IsNullOrEmpty(appId))
                {
                    throw Reject(WeChatEventRejection.Malformed, "an unauthorized push without AuthorizerAppid.");
                }

                await RemoveByPushAsync(appId, createdAt, cancellationToken).ConfigureAwait(false);
                return new WeChatOpenPlatformEvent(infoType, appId, createdAt);

            default:
                Log.EventIgnored(_api.Logger, Name, infoType ?? "(none)");
                return new WeChatOpenPlatformEvent(infoType ?? string.Empty, Element(message, "AuthorizerAppid"), createdAt);
        }
    }

    /// <summary>
    /// Stores a <c>component_verify_ticket</c> (unless the store holds a newer one) and, when there is no usable component
    /// token or its refreshes are failing, starts a component token fetch at once without waiting for it.
    /// </summary>
    /// <param name="ticket">The ticket.</param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns><see langword="true"/> when the ticket was stored.</returns>
    public async Task<bool> ReceiveTicketAsync(WeChatComponentVerifyTicket ticket, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ticket);
        var stored = await _api.Tickets.SetTicketAsync(_api.TicketKey, new PushedTicket(ticket.Value, ticket.CreatedAt), cancellationToken).ConfigureAwait(false);
        if (!stored)
        {
            Log.TicketIgnored(_api.Logger, Name, AccessToken.ComputeFingerprint(ticket.Value), ticket.CreatedAt);
            return false;
        }

        Log.TicketReceived(_api.Logger, Name, AccessToken.ComputeFingerprint(ticket.Value), ticket.CreatedAt);
        var tokens = ComponentToken;
        if (!tokens.TryGetValue(out _) || tokens.Status.ConsecutiveFailures > 0)
        {
            // Fetch at once, and give it a moment so that a reader right after the push finds the token.
            await AwaitBrieflyAsync(RefreshWithTicketAsync(tokens), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Exchanges an authorization code (from an <c>authorized</c> push or the authorization page's redirect, <c>auth_code</c>)
    /// with <c>api_query_auth</c>, stores the authorizer's refresh token, and adds the authorizer to the set with the token
    /// the exchange returned (no further upstream call for its first load).
    /// </summary>
    /// <param name="authorizationCode">The authorization code.</param>
    /// <param name="cancellationToken">Cancels the exchange.</param>
    /// <returns>The authorizer's AppId.</returns>
    /// <exception cref="WeChatApiException">WeChat refused the code or could not be reached.</exception>
    public Task<string> AuthorizeAsync(string authorizationCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(authorizationCode);

        // No time comes with a redirect: this server's clock orders it. A clock ahead of WeChat's can make an unauthorized
        // push of the next moments look older and be ignored; the next refresh then meets 61023 and removes the account.
        return AuthorizeCoreAsync(authorizationCode, _api.Time.GetUtcNow(), cancellationToken);
    }

    private async Task<string> AuthorizeCoreAsync(string authorizationCode, DateTimeOffset changedAt, CancellationToken cancellationToken)
    {
        var options = _api.Options;
        var started = _api.Time.GetUtcNow();
        using var document = await _api.PostWithComponentTokenAsync(
            "cgi-bin/component/api_query_auth",
            [new("component_appid", options.ComponentAppId), new("authorization_code", authorizationCode)],
            null,
            cancellationToken).ConfigureAwait(false);
        if (!document.RootElement.TryGetProperty("authorization_info", out var info) || info.ValueKind != System.Text.Json.JsonValueKind.Object)
        {
            throw WeChatErrors.InvalidResponse(options.ComponentAppId, "an api_query_auth answer without authorization_info", null);
        }

        var appId = WeChatComponentApi.GetString(info, "authorizer_appid");
        var refreshToken = WeChatComponentApi.GetString(info, "authorizer_refresh_token");
        if (string.IsNullOrEmpty(appId) || string.IsNullOrEmpty(refreshToken))
        {
            throw WeChatErrors.InvalidResponse(options.ComponentAppId, "an api_query_auth answer without authorizer_appid or authorizer_refresh_token", null);
        }

        var change = new StoredSecret(refreshToken, changedAt, WeChatOpenPlatformState.CodeOrigin(authorizationCode));
        if (!await _api.Secrets.SetSecretAsync(_api.AuthorizersScope, appId, change, cancellationToken).ConfigureAwait(false))
        {
            // A later change (an unauthorized push created after this authorization) is stored: it stands.
            var later = await _api.Secrets.GetSecretAsync(_api.AuthorizersScope, appId, cancellationToken).ConfigureAwait(false);
            Log.PushOutOfOrder(_api.Logger, Name, "authorized", appId, changedAt, later?.ChangedAt ?? changedAt);
            return appId;
        }

        var (value, expiresIn, _) = WeChatJson.ReadSecret(info, "authorizer_access_token");
        if (value is not null)
        {
            _authorizers.Seed(appId, new AccessToken(value, started.AddSeconds(expiresIn)));
        }
        else
        {
            _authorizers.Forget(appId); // no usable token in the answer: the first load calls api_authorizer_token
        }

        var entry = Authorizers.GetOrAdd(appId);
        var status = entry.Status;
        Log.AuthorizerAdded(_api.Logger, Name, appId);

        // Authorized again: take the new token now instead of at the next scheduled refresh. New: its first load is queued.
        // Either way, give it a moment so that a reader right after the push finds the token.
        var load = status.LastRefreshedAt is not null || status.ConsecutiveFailures > 0
            ? entry.RefreshAsync(CancellationToken.None)
            : entry.GetAsync(CancellationToken.None).AsTask();
        await AwaitBrieflyAsync(load, cancellationToken).ConfigureAwait(false);
        return appId;
    }

    /// <summary>
    /// An <c>authorized</c>/<c>updateauthorized</c> push: ignored when the store holds a later change of that authorizer (a
    /// late repeat); acknowledged without a second exchange when it is a repeat of the push that stored the current
    /// authorization (WeChat re-sends a push it thinks was not answered in time, with the code already exchanged).
    /// </summary>
    private async Task<string> AuthorizeByPushAsync(string infoType, string? authorizerAppId, string code, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(authorizerAppId))
        {
            return await AuthorizeCoreAsync(code, createdAt, cancellationToken).ConfigureAwait(false);
        }

        var stored = await _api.Secrets.GetSecretAsync(_api.AuthorizersScope, authorizerAppId!, cancellationToken).ConfigureAwait(false);
        if (IsAlreadyApplied(infoType, authorizerAppId!, stored, code, createdAt))
        {
            return authorizerAppId!;
        }

        try
        {
            return await AuthorizeCoreAsync(code, createdAt, cancellationToken).ConfigureAwait(false);
        }
        catch (WeChatApiException ex) when (ex.ErrorCode == 61010)
        {
            // The code is spent or expired: if an authorization at least as new is stored (another instance exchanged this
            // very push), there is nothing left to do; otherwise the push fails and WeChat sends it again.
            stored = await _api.Secrets.GetSecretAsync(_api.AuthorizersScope, authorizerAppId!, cancellationToken).ConfigureAwait(false);
            if (stored is { Value: not null } && stored.ChangedAt >= createdAt)
            {
                Log.PushRepeated(_api.Logger, Name, infoType, authorizerAppId!);
                return authorizerAppId!;
            }

            throw;
        }
    }

    private bool IsAlreadyApplied(string infoType, string authorizerAppId, StoredSecret? stored, string code, DateTimeOffset createdAt)
    {
        if (stored is null)
        {
            return false;
        }

        if (stored.ChangedAt > createdAt)
        {
            Log.PushOutOfOrder(_api.Logger, Name, infoType, authorizerAppId, createdAt, stored.ChangedAt);
            return true;
        }

        if (stored.Value is not null && stored.Origin == WeChatOpenPlatformState.CodeOrigin(code))
        {
            Log.PushRepeated(_api.Logger, Name, infoType, authorizerAppId);
            return true;
        }

        return false;
    }

    /// <summary>An <c>unauthorized</c> push: removes the authorizer unless the store holds a later change (authorized again since).</summary>
    private async Task RemoveByPushAsync(string authorizerAppId, DateTimeOffset createdAt, CancellationToken cancellationToken)
    {
        if (!await _api.Secrets.SetSecretAsync(_api.AuthorizersScope, authorizerAppId, new StoredSecret(null, createdAt), cancellationToken).ConfigureAwait(false))
        {
            var later = await _api.Secrets.GetSecretAsync(_api.AuthorizersScope, authorizerAppId, cancellationToken).ConfigureAwait(false);
            Log.PushOutOfOrder(_api.Logger, Name, "unauthorized", authorizerAppId, createdAt, later?.ChangedAt ?? createdAt);
            return;
        }

        await ForgetAsync(authorizerAppId, stored: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes an authorizer: its refresh token from the store, its token from the set.</summary>
    /// <param name="authorizerAppId">The authorizer's AppId.</param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns><see langword="true"/> when the platform knew the authorizer.</returns>
    public async Task<bool> RemoveAuthorizerAsync(string authorizerAppId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(authorizerAppId);
        var stored = await _api.Secrets.RemoveSecretAsync(_api.AuthorizersScope, authorizerAppId, null, cancellationToken).ConfigureAwait(false);
        return await ForgetAsync(authorizerAppId, stored, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> ForgetAsync(string authorizerAppId, bool stored, CancellationToken cancellationToken)
    {
        _authorizers.Forget(authorizerAppId);
        var held = await _api.RemoveAuthorizerKeysAsync(authorizerAppId, cancellationToken).ConfigureAwait(false);
        if (stored || held)
        {
            Log.AuthorizerRemoved(_api.Logger, Name, authorizerAppId, "unauthorized");
        }

        return stored || held;
    }

    /// <summary>Creates a pre-authorization code (<c>api_create_preauthcode</c>, valid 10 minutes) for the authorization page.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pre-authorization code.</returns>
    /// <exception cref="WeChatApiException">WeChat refused the call or could not be reached.</exception>
    public async Task<string> CreatePreAuthCodeAsync(CancellationToken cancellationToken = default)
    {
        using var document = await _api.PostWithComponentTokenAsync(
            "cgi-bin/component/api_create_preauthcode",
            [new("component_appid", ComponentAppId)],
            null,
            cancellationToken).ConfigureAwait(false);
        return WeChatComponentApi.GetString(document.RootElement, "pre_auth_code") is { Length: > 0 } code
            ? code
            : throw WeChatErrors.InvalidResponse(ComponentAppId, "an api_create_preauthcode answer without pre_auth_code", null);
    }

    /// <summary>
    /// Creates the link to WeChat's authorization page with a new pre-authorization code. After the owner authorizes,
    /// WeChat redirects to <paramref name="redirectUri"/> with <c>auth_code</c>: pass it to
    /// <see cref="AuthorizeAsync(string, CancellationToken)"/> (the <c>authorized</c> push carries the same code).
    /// </summary>
    /// <param name="redirectUri">Where WeChat sends the owner back; its domain must be the platform's login domain.</param>
    /// <param name="authorizationType">Which accounts the page offers.</param>
    /// <param name="mobile">Whether to build the link for WeChat's in-app browser instead of the desktop page (scanning a QR code).</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The link; it stays valid as long as its pre-authorization code (10 minutes).</returns>
    public async Task<Uri> CreateAuthorizationUrlAsync(Uri redirectUri, WeChatAuthorizationType authorizationType = WeChatAuthorizationType.Both, bool mobile = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redirectUri);
        var preAuthCode = await CreatePreAuthCodeAsync(cancellationToken).ConfigureAwait(false);
        var query = string.Join('&', new[]
        {
            mobile ? "action=bindcomponent&no_scan=1" : null,
            "component_appid=" + Uri.EscapeDataString(ComponentAppId),
            "pre_auth_code=" + Uri.EscapeDataString(preAuthCode),
            "redirect_uri=" + Uri.EscapeDataString(redirectUri.AbsoluteUri),
            "auth_type=" + ((int)authorizationType).ToString(CultureInfo.InvariantCulture),
        }.Where(p => p is not null));
        return new UriBuilder(mobile ? MobileAuthorizationPage : DesktopAuthorizationPage)
        {
            Query = query,
            Fragment = mobile ? "wechat_redirect" : string.Empty,
        }.Uri;
    }

    /// <summary>
    /// Refreshes the component token; when the refresh joined an attempt that had read the store before this ticket landed
    /// (it fails with "no ticket yet"), refreshes once more, now with the ticket.
    /// </summary>
    private static async Task<AccessToken> RefreshWithTicketAsync(IRefreshingCache<AccessToken> tokens)
    {
        try
        {
            return await tokens.RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (PushedTicketMissingException)
        {
            return await tokens.RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static string? Element(XElement root, string name) => root.Element(name)?.Value;

    private static void Observe(Task task) =>
        task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Waits at most <see cref="PushWaitLimit"/> for a fetch a push started (WeChat waits 5 s for the answer); its failure
    /// is the cache's to report (status, logs, health), never the push's.
    /// </summary>
    private async Task AwaitBrieflyAsync(Task load, CancellationToken cancellationToken)
    {
        Observe(load);
        try
        {
            await load.WaitAsync(PushWaitLimit, _api.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Still running (readers get it when it lands) or failed (reported by the cache).
        }
    }

    private XElement Open(string msgSignature, string timestamp, string nonce, string body)
    {
        var options = _api.Options;
        var key = WeChatMessageCrypto.DecodeKey(options.EncodingAESKey)
            ?? throw new InvalidOperationException($"WeChatOpenPlatformOptions.EncodingAESKey of platform '{Name}' is not 43 Base64 characters.");
        var componentAppId = options.ComponentAppId;
        var (envelope, message, problem, detail) = CallbackEnvelope.Open(
            options.Token, key, appId => string.Equals(appId, componentAppId, StringComparison.Ordinal), msgSignature, timestamp, nonce, body, MaxEventBodyBytes);
        if (message is null)
        {
            throw Reject(
                problem switch
                {
                    CallbackProblem.InvalidSignature => WeChatEventRejection.InvalidSignature,
                    CallbackProblem.Undecryptable => WeChatEventRejection.Undecryptable,
                    CallbackProblem.WrongReceiver => WeChatEventRejection.WrongAppId,
                    _ => WeChatEventRejection.Malformed,
                },
                problem == CallbackProblem.InvalidSignature ? "msg_signature does not match the platform's Token." : detail);
        }

        var outer = Element(envelope!, "AppId");
        var inner = Element(message, "AppId");
        if ((outer is not null && outer != componentAppId) || (inner is not null && inner != componentAppId))
        {
            throw Reject(WeChatEventRejection.WrongAppId, "the push names another AppId.");
        }

        return message;
    }

    private WeChatEventRejectedException Reject(WeChatEventRejection reason, string detail)
    {
        Log.EventRejected(_api.Logger, Name, reason, detail);
        return new WeChatEventRejectedException(reason, $"Platform '{Name}' refused a push to its event URL ({reason}): {detail}");
    }
}
