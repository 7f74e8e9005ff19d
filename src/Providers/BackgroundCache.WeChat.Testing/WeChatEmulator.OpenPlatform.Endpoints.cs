using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>The Open Platform endpoints: component token, code exchange, authorizer token, pre-auth code, authorizer info and push-ticket start.</summary>
public sealed partial class WeChatEmulator
{
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
}
