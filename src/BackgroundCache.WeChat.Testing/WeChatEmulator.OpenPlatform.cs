using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackgroundCache.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>
/// The Open Platform (third-party platform) side of the emulator: <c>cgi-bin/component/api_component_token</c>,
/// <c>api_query_auth</c>, <c>api_authorizer_token</c>, <c>api_create_preauthcode</c>, <c>api_get_authorizer_info</c> and
/// <c>api_start_push_ticket</c> (the component token accepted as <c>?access_token=</c> and <c>?component_access_token=</c>),
/// and encrypted pushes of
/// <c>component_verify_ticket</c> and authorization events to a platform's event URL, sealed with the emulator's own
/// implementation of WeChat's message crypto.
/// </summary>
public sealed partial class WeChatEmulator
{
    private readonly Dictionary<string, ComponentState> _components = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Component, DateTimeOffset ExpiresAt)> _componentTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _authorizerTokenCallsByApp = new(StringComparer.Ordinal);
    private readonly List<ITimer> _pushTimers = [];
    private readonly List<Task> _pushes = [];
    private readonly HttpClient _pushClient = new();
    private int _componentTokenCalls;
    private int _queryAuthCalls;
    private int _authorizerTokenCalls;
    private int _preAuthCodeCalls;
    private int _authorizerInfoCalls;
    private int _startPushTicketCalls;
    private int _authorizerTokenInFlight;
    private int _peakAuthorizerTokenInFlight;
    private bool _pushesStopped;

    /// <summary>Gets the number of <c>api_component_token</c> calls.</summary>
    public int ComponentTokenCalls => Volatile.Read(ref _componentTokenCalls);

    /// <summary>Gets the number of <c>api_query_auth</c> calls.</summary>
    public int QueryAuthCalls => Volatile.Read(ref _queryAuthCalls);

    /// <summary>Gets the number of <c>api_authorizer_token</c> calls.</summary>
    public int AuthorizerTokenCalls => Volatile.Read(ref _authorizerTokenCalls);

    /// <summary>Gets the number of <c>api_create_preauthcode</c> calls.</summary>
    public int PreAuthCodeCalls => Volatile.Read(ref _preAuthCodeCalls);

    /// <summary>Gets the number of <c>api_get_authorizer_info</c> calls.</summary>
    public int AuthorizerInfoCalls => Volatile.Read(ref _authorizerInfoCalls);

    /// <summary>Gets the number of <c>api_start_push_ticket</c> calls.</summary>
    public int StartPushTicketCalls => Volatile.Read(ref _startPushTicketCalls);

    /// <summary>Gets the most <c>api_authorizer_token</c> calls that were in flight at once.</summary>
    public int PeakConcurrentAuthorizerTokenCalls => Volatile.Read(ref _peakAuthorizerTokenInFlight);

    /// <summary>Registers a third-party platform with its secret and its event URL's message crypto settings.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="componentAppSecret">The platform's AppSecret.</param>
    /// <param name="token">The event URL's message-check Token.</param>
    /// <param name="encodingAesKey">The event URL's EncodingAESKey (43 characters).</param>
    public void AddComponent(string componentAppId, string componentAppSecret, string token, string encodingAesKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(componentAppId);
        ArgumentException.ThrowIfNullOrEmpty(componentAppSecret);
        ArgumentException.ThrowIfNullOrEmpty(token);
        if (encodingAesKey is not { Length: 43 })
        {
            throw new ArgumentException("An EncodingAESKey is 43 characters.", nameof(encodingAesKey));
        }

        lock (_gate)
        {
            _components[componentAppId] = new ComponentState(componentAppId, componentAppSecret, token, Convert.FromBase64String(encodingAesKey + "="));
        }
    }

    /// <summary>
    /// Sets the platform's event URL (as in the Open Platform console): <c>api_start_push_ticket</c> pushes a ticket to it
    /// at once. <see cref="StartPushingTickets(string, Uri, TimeSpan?)"/> sets it too.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    public void SetComponentEventUrl(string componentAppId, Uri eventUrl)
    {
        ArgumentNullException.ThrowIfNull(eventUrl);
        lock (_gate)
        {
            Component(componentAppId).EventUrl = eventUrl;
        }
    }

    /// <summary>
    /// Waits until the pushes the emulator started on its own (scheduled tickets, the ticket <c>api_start_push_ticket</c>
    /// sends) have been answered: a test's signal that a push has landed.
    /// </summary>
    /// <returns>A task that completes when no such push is in flight.</returns>
    public Task WhenPushesCompleteAsync()
    {
        lock (_gate)
        {
            _pushes.RemoveAll(t => t.IsCompleted);
            return Task.WhenAll([.. _pushes]);
        }
    }

    /// <summary>Issues a new <c>component_verify_ticket</c> without pushing it (earlier ones stay valid until they expire).</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <returns>The ticket.</returns>
    public string IssueComponentVerifyTicket(string componentAppId)
    {
        lock (_gate)
        {
            var component = Component(componentAppId);
            var ticket = "ticket@@@" + NewSecretValue(string.Empty)[..60];
            component.Tickets[ticket] = _options.TimeProvider.GetUtcNow() + _options.ComponentVerifyTicketLifetime;
            return ticket;
        }
    }

    /// <summary>Issues a new ticket and pushes it, encrypted, to the platform's event URL (as WeChat does every 10 minutes).</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer.</returns>
    public Task<WeChatPushResult> PushComponentVerifyTicketAsync(string componentAppId, Uri eventUrl, CancellationToken cancellationToken = default)
    {
        var ticket = IssueComponentVerifyTicket(componentAppId);
        return PushAsync(componentAppId, eventUrl, Message(componentAppId, "component_verify_ticket", ("ComponentVerifyTicket", ticket)), cancellationToken);
    }

    /// <summary>
    /// Pushes a ticket now and then every <paramref name="interval"/> (default
    /// <see cref="WeChatEmulatorOptions.ComponentVerifyTicketInterval"/>) of the emulator's clock, until the returned object
    /// or the emulator is disposed.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="interval">The push interval.</param>
    /// <returns>Stops the pushes when disposed.</returns>
    public IAsyncDisposable StartPushingTickets(string componentAppId, Uri eventUrl, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(eventUrl);
        var period = interval ?? _options.ComponentVerifyTicketInterval;
        SetComponentEventUrl(componentAppId, eventUrl);
        var timer = _options.TimeProvider.CreateTimer(
            _ =>
            {
                lock (_gate)
                {
                    if (_pushesStopped)
                    {
                        return;
                    }

                    _pushes.RemoveAll(t => t.IsCompleted);
                    _pushes.Add(PushQuietlyAsync(componentAppId, eventUrl));
                }
            },
            null,
            TimeSpan.Zero,
            period);
        lock (_gate)
        {
            _pushTimers.Add(timer);
        }

        return new PushSchedule(this, timer);
    }

    /// <summary>
    /// Authorizes the platform for an account without any push: registers the authorizer (a new authorization replaces the
    /// previous one) and returns the authorization code that <c>api_query_auth</c> exchanges (the authorization page's
    /// redirect carries it as <c>auth_code</c>).
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The authorization code.</returns>
    public string Authorize(string componentAppId, string authorizerAppId)
    {
        ArgumentException.ThrowIfNullOrEmpty(authorizerAppId);
        lock (_gate)
        {
            var component = Component(componentAppId);
            var code = "queryauthcode@@@" + NewSecretValue(string.Empty)[..40];
            component.Codes[code] = (authorizerAppId, _options.TimeProvider.GetUtcNow() + _options.AuthorizationCodeLifetime);
            component.Authorizers[authorizerAppId] = new AuthorizerState(null);
            if (!_apps.ContainsKey(authorizerAppId))
            {
                _apps[authorizerAppId] = new AppState(authorizerAppId, NewSecretValue("s"));
            }

            return code;
        }
    }

    /// <summary>
    /// Authorizes the platform for an account and returns its refresh token at once, as if the code had already been
    /// exchanged: for tests that start with authorizers already in the platform's store.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The authorizer's refresh token.</returns>
    public string AuthorizeWithRefreshToken(string componentAppId, string authorizerAppId)
    {
        var code = Authorize(componentAppId, authorizerAppId);
        lock (_gate)
        {
            var component = Component(componentAppId);
            component.Codes.Remove(code);
            var refresh = "refreshtoken@@@" + NewSecretValue(string.Empty)[..60];
            component.Authorizers[authorizerAppId] = new AuthorizerState(refresh);
            return refresh;
        }
    }

    /// <summary>Authorizes the platform for an account and pushes <c>authorized</c> with the code to the event URL.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="infoType"><c>authorized</c>, or <c>updateauthorized</c> for a change of permissions.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer.</returns>
    public Task<WeChatPushResult> PushAuthorizedAsync(string componentAppId, string authorizerAppId, Uri eventUrl, string infoType = "authorized", CancellationToken cancellationToken = default)
    {
        var code = Authorize(componentAppId, authorizerAppId);
        var expires = (_options.TimeProvider.GetUtcNow() + _options.AuthorizationCodeLifetime).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return PushAsync(componentAppId, eventUrl, Message(componentAppId, infoType, ("AuthorizerAppid", authorizerAppId), ("AuthorizationCode", code), ("AuthorizationCodeExpiredTime", expires), ("PreAuthCode", "preauthcode@@@emulator")), cancellationToken);
    }

    /// <summary>
    /// Revokes an authorization: its refresh token answers 61023 from now on; with <paramref name="eventUrl"/>, pushes
    /// <c>unauthorized</c> to it (without, the platform learns it at its next refresh).
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <param name="eventUrl">The platform's event URL, or <see langword="null"/> for a silent revocation.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer, or <see langword="null"/> without a push.</returns>
    public async Task<WeChatPushResult?> RevokeAsync(string componentAppId, string authorizerAppId, Uri? eventUrl = null, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            Component(componentAppId).Authorizers.Remove(authorizerAppId);
        }

        return eventUrl is null
            ? null
            : await PushAsync(componentAppId, eventUrl, Message(componentAppId, "unauthorized", ("AuthorizerAppid", authorizerAppId)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gets the refresh token WeChat currently accepts for an authorizer, or <see langword="null"/>.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The current refresh token.</returns>
    public string? GetAuthorizerRefreshToken(string componentAppId, string authorizerAppId)
    {
        lock (_gate)
        {
            return Component(componentAppId).Authorizers.TryGetValue(authorizerAppId, out var state) ? state.RefreshToken : null;
        }
    }

    /// <summary>Gets the number of <c>api_authorizer_token</c> calls for one authorizer.</summary>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The number of calls.</returns>
    public int GetAuthorizerTokenCalls(string authorizerAppId)
    {
        lock (_gate)
        {
            return _authorizerTokenCallsByApp.TryGetValue(authorizerAppId, out var calls) ? calls : 0;
        }
    }

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

    private ComponentState Component(string componentAppId) =>
        _components.TryGetValue(componentAppId, out var component)
            ? component
            : throw new InvalidOperationException($"Component '{componentAppId}' is not registered: call AddComponent first.");

    private void MapOpenPlatform(WebApplication app)
    {
        app.MapPost("/cgi-bin/component/api_component_token", ComponentTokenAsync);
        app.MapPost("/cgi-bin/component/api_query_auth", QueryAuthAsync);
        app.MapPost("/cgi-bin/component/api_authorizer_token", AuthorizerTokenAsync);
        app.MapPost("/cgi-bin/component/api_create_preauthcode", PreAuthCodeAsync);
        app.MapPost("/cgi-bin/component/api_get_authorizer_info", AuthorizerInfoAsync);
        app.MapPost("/cgi-bin/component/api_start_push_ticket", StartPushTicketAsync);
    }

    private static async Task<Dictionary<string, string>?> ReadBodyAsync(HttpContext context)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            return document.RootElement.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.String)
                .ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task ComponentTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _componentTokenCalls);
        if (await ApplyFaultAsync(context).ConfigureAwait(false))
        {
            return;
        }

        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        Dictionary<string, object>? result = null;
        int code;
        lock (_gate)
        {
            code = IssueComponentToken(body, context.Connection.RemoteIpAddress, out var token, out var lifetime);
            if (code == 0)
            {
                result = new() { ["component_access_token"] = token!, ["expires_in"] = (long)lifetime.TotalSeconds };
            }
        }

        await (result is not null ? WriteJsonAsync(context, result) : WriteErrorAsync(context, code, ComponentErrorText(code))).ConfigureAwait(false);
    }

    private int IssueComponentToken(Dictionary<string, string>? body, IPAddress? caller, out string? token, out TimeSpan lifetime)
    {
        token = null;
        lifetime = _options.TokenLifetime;
        if (body is null)
        {
            return 47001;
        }

        if (!body.TryGetValue("component_appid", out var appId) || !_components.TryGetValue(appId, out var component))
        {
            return 40013;
        }

        if (!body.TryGetValue("component_appsecret", out var secret) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(component.Secret)))
        {
            return 40125;
        }

        var ip = caller?.IsIPv4MappedToIPv6 == true ? caller.MapToIPv4() : caller;
        if (_options.IpWhitelist is { } whitelist && (ip is null || !whitelist.Contains(ip.ToString())))
        {
            return 61004;
        }

        var now = _options.TimeProvider.GetUtcNow();
        if (!body.TryGetValue("component_verify_ticket", out var ticket) || !component.Tickets.TryGetValue(ticket, out var ticketExpiresAt))
        {
            return 61006;
        }

        if (now >= ticketExpiresAt)
        {
            return 61005;
        }

        token = NewSecretValue("80_component_");
        _componentTokens[token] = (appId, now + lifetime);
        return 0;
    }

    /// <summary>Checks <c>component_access_token</c>; returns the component on success.</summary>
    private int ValidateComponentTokenLocked(HttpContext context, Dictionary<string, string>? body, out ComponentState? component)
    {
        component = null;
        // WeChat's older pages name the component token component_access_token, its current ones access_token: both work.
        var query = context.Request.Query;
        var token = query["component_access_token"].ToString();
        if (string.IsNullOrEmpty(token))
        {
            token = query["access_token"].ToString();
        }

        if (string.IsNullOrEmpty(token))
        {
            return 41001;
        }

        if (!_componentTokens.TryGetValue(token, out var issued))
        {
            return 40014;
        }

        if (_options.TimeProvider.GetUtcNow() >= issued.ExpiresAt)
        {
            return _options.ExpiredTokenErrorCode;
        }

        if (body is null)
        {
            return 47001;
        }

        if (!body.TryGetValue("component_appid", out var appId) || appId != issued.Component)
        {
            return 40013;
        }

        component = _components[appId];
        return 0;
    }

    private Task QueryAuthAsync(HttpContext context)
    {
        Interlocked.Increment(ref _queryAuthCalls);
        return ComponentCallAsync(context, (component, body) =>
        {
            var now = _options.TimeProvider.GetUtcNow();
            if (!body.TryGetValue("authorization_code", out var authCode) || !component.Codes.Remove(authCode, out var grant) || now >= grant.ExpiresAt)
            {
                return (61010, null);
            }

            var refresh = "refreshtoken@@@" + NewSecretValue(string.Empty)[..60];
            component.Authorizers[grant.AuthorizerAppId] = new AuthorizerState(refresh);
            var token = IssueAuthorizerToken(grant.AuthorizerAppId, now);
            return (0, new()
            {
                ["authorization_info"] = new Dictionary<string, object>
                {
                    ["authorizer_appid"] = grant.AuthorizerAppId,
                    ["authorizer_access_token"] = token,
                    ["expires_in"] = (long)_options.TokenLifetime.TotalSeconds,
                    ["authorizer_refresh_token"] = refresh,
                    ["func_info"] = FuncInfo(),
                },
            });
        });
    }

    /// <summary>
    /// A component API called with the component token: reads the JSON body, checks the token and <c>component_appid</c>,
    /// then lets <paramref name="handle"/> answer (under the emulator's lock) with an errcode or a result.
    /// </summary>
    private async Task ComponentCallAsync(HttpContext context, Func<ComponentState, Dictionary<string, string>, (int Code, Dictionary<string, object>? Result)> handle)
    {
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        Dictionary<string, object>? result = null;
        int code;
        lock (_gate)
        {
            code = ValidateComponentTokenLocked(context, body, out var component);
            if (code == 0)
            {
                (code, result) = handle(component!, body!);
            }
        }

        await (result is not null ? WriteJsonAsync(context, result) : WriteErrorAsync(context, code, ComponentErrorText(code))).ConfigureAwait(false);
    }

    private static Dictionary<string, object>[] FuncInfo() => [new() { ["funcscope_category"] = new Dictionary<string, int> { ["id"] = 1 } }];

    private async Task AuthorizerTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _authorizerTokenCalls);
        var inFlight = Interlocked.Increment(ref _authorizerTokenInFlight);
        try
        {
            int peak;
            while (inFlight > (peak = Volatile.Read(ref _peakAuthorizerTokenInFlight)) && Interlocked.CompareExchange(ref _peakAuthorizerTokenInFlight, inFlight, peak) != peak)
            {
            }

            if (await ApplyFaultAsync(context).ConfigureAwait(false))
            {
                return;
            }

            var body = await ReadBodyAsync(context).ConfigureAwait(false);
            Dictionary<string, object>? result = null;
            int code;
            lock (_gate)
            {
                code = ValidateComponentTokenLocked(context, body, out var component);
                if (code == 0)
                {
                    var appId = body!.GetValueOrDefault("authorizer_appid") ?? string.Empty;
                    _authorizerTokenCallsByApp[appId] = _authorizerTokenCallsByApp.GetValueOrDefault(appId) + 1;
                    if (!component!.Authorizers.TryGetValue(appId, out var state) || state?.RefreshToken is null
                        || !body!.TryGetValue("authorizer_refresh_token", out var refresh) || refresh != state.RefreshToken)
                    {
                        code = 61023;
                    }
                    else
                    {
                        if (_options.RotateAuthorizerRefreshTokens)
                        {
                            refresh = "refreshtoken@@@" + NewSecretValue(string.Empty)[..60];
                            component.Authorizers[appId] = new AuthorizerState(refresh);
                        }

                        result = new()
                        {
                            ["authorizer_access_token"] = IssueAuthorizerToken(appId, _options.TimeProvider.GetUtcNow()),
                            ["expires_in"] = (long)_options.TokenLifetime.TotalSeconds,
                            ["authorizer_refresh_token"] = refresh,
                        };
                    }
                }
            }

            await (result is not null ? WriteJsonAsync(context, result) : WriteErrorAsync(context, code, ComponentErrorText(code))).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _authorizerTokenInFlight);
        }
    }

    private async Task PreAuthCodeAsync(HttpContext context)
    {
        Interlocked.Increment(ref _preAuthCodeCalls);
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        int code;
        lock (_gate)
        {
            code = ValidateComponentTokenLocked(context, body, out _);
        }

        await (code == 0
            ? WriteJsonAsync(context, new() { ["pre_auth_code"] = "preauthcode@@@" + NewSecretValue(string.Empty)[..40], ["expires_in"] = 1800L })
            : WriteErrorAsync(context, code, ComponentErrorText(code))).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>api_get_authorizer_info</c>: the account's details (nickname, type, original ID…) and its authorization (AppId,
    /// refresh token, permission sets), as WeChat documents them; 61023 for an account that has not authorized the platform.
    /// </summary>
    private Task AuthorizerInfoAsync(HttpContext context)
    {
        Interlocked.Increment(ref _authorizerInfoCalls);
        return ComponentCallAsync(context, (component, body) =>
        {
            var appId = body.GetValueOrDefault("authorizer_appid") ?? string.Empty;
            if (!component.Authorizers.TryGetValue(appId, out var state) || state.RefreshToken is null)
            {
                return (61023, null);
            }

            return (0, new()
            {
                ["authorizer_info"] = new Dictionary<string, object>
                {
                    ["nick_name"] = "Emulated account " + appId,
                    ["head_img"] = "http://wx.qlogo.cn/mmopen/emulator/0",
                    ["service_type_info"] = new Dictionary<string, int> { ["id"] = 2 },
                    ["verify_type_info"] = new Dictionary<string, int> { ["id"] = 0 },
                    ["user_name"] = "gh_" + appId[^Math.Min(appId.Length, 12)..],
                    ["alias"] = string.Empty,
                    ["qrcode_url"] = "http://mmbiz.qpic.cn/emulator/0",
                    ["business_info"] = new Dictionary<string, int> { ["open_pay"] = 0, ["open_shake"] = 0, ["open_scan"] = 0, ["open_card"] = 0, ["open_store"] = 0 },
                    ["principal_name"] = "Emulated company",
                    ["signature"] = string.Empty,
                },
                ["authorization_info"] = new Dictionary<string, object>
                {
                    ["authorizer_appid"] = appId,
                    ["authorizer_refresh_token"] = state.RefreshToken,
                    ["func_info"] = FuncInfo(),
                },
            });
        });
    }

    /// <summary>
    /// <c>api_start_push_ticket</c> (body <c>component_appid</c>, <c>component_secret</c>; no token): answers
    /// <c>{"errcode":0,"errmsg":"ok"}</c> and, when the platform's event URL is known, pushes a new ticket to it at once.
    /// </summary>
    private async Task StartPushTicketAsync(HttpContext context)
    {
        Interlocked.Increment(ref _startPushTicketCalls);
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        int code;
        lock (_gate)
        {
            if (body is null)
            {
                code = 47001;
            }
            else if (!body.TryGetValue("component_appid", out var appId) || !_components.TryGetValue(appId, out var component))
            {
                code = 40013;
            }
            else if (!body.TryGetValue("component_secret", out var secret) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(component.Secret)))
            {
                code = 40125;
            }
            else
            {
                code = 0;
                if (component.EventUrl is { } eventUrl && !_pushesStopped)
                {
                    _pushes.RemoveAll(t => t.IsCompleted);
                    _pushes.Add(PushQuietlyAsync(appId, eventUrl));
                }
            }
        }

        await (code == 0
            ? WriteJsonAsync(context, new() { ["errcode"] = 0, ["errmsg"] = "ok" })
            : WriteErrorAsync(context, code, ComponentErrorText(code))).ConfigureAwait(false);
    }

    /// <summary>An authorizer token works on the business APIs like an Official Account's (a new one supersedes the previous, which keeps a grace period).</summary>
    private string IssueAuthorizerToken(string authorizerAppId, DateTimeOffset now)
    {
        var app = _apps[authorizerAppId];
        if (app.Classic is { } previous && previous.SupersededAt is null)
        {
            previous.SupersededAt = now;
            previous.Grace = _options.ClassicOverlap;
        }

        var token = Issue(app, now, _options.TokenLifetime);
        app.Classic = token;
        return token.Value;
    }

    private static string ComponentErrorText(int code) => code switch
    {
        47001 => "data format error",
        40013 => "invalid appid",
        40125 => "invalid appsecret",
        61004 => "access clientip is not registered",
        61005 => "component ticket is expired",
        61006 => "component ticket is invalid",
        61010 => "code is expired",
        61023 => "refresh_token is invalid",
        _ => ErrorText(code),
    };

    private sealed class ComponentState(string appId, string secret, string token, byte[] key)
    {
        public string AppId { get; } = appId;

        public string Secret { get; } = secret;

        public string Token { get; } = token;

        public byte[] Key { get; } = key;

        public Dictionary<string, DateTimeOffset> Tickets { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, (string AuthorizerAppId, DateTimeOffset ExpiresAt)> Codes { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, AuthorizerState> Authorizers { get; } = new(StringComparer.Ordinal);

        public Uri? EventUrl { get; set; }
    }

    private sealed record AuthorizerState(string? RefreshToken);

    private sealed class PushSchedule(WeChatEmulator emulator, ITimer timer) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await timer.DisposeAsync().ConfigureAwait(false);
            lock (emulator._gate)
            {
                emulator._pushTimers.Remove(timer);
            }
        }
    }
}
