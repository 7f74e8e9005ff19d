using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.Testing;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>The token APIs: <c>cgi-bin/token</c> (classic) and <c>cgi-bin/stable_token</c>, their authentication, quotas and days.</summary>
public sealed partial class WeChatEmulator
{
    private async Task ClassicTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _classicCalls);
        if (await ApplyFaultAsync(context).ConfigureAwait(false))
        {
            return;
        }

        var query = context.Request.Query;
        var (code, message, result) = IssueClassic(query["grant_type"], query["appid"], query["secret"], context.Connection.RemoteIpAddress);
        await (code == 0 ? WriteJsonAsync(context, result!) : WriteErrorAsync(context, code, message)).ConfigureAwait(false);
    }

    private async Task StableTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _stableCalls);
        if (await ApplyFaultAsync(context).ConfigureAwait(false))
        {
            return;
        }

        StableRequest? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<StableRequest>(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            request = null;
        }

        if (request is null)
        {
            await WriteErrorAsync(context, 47001, "data format error").ConfigureAwait(false);
            return;
        }

        if (request.force_refresh)
        {
            Interlocked.Increment(ref _forcedCalls);
        }

        var (code, message, result) = IssueStable(request, context.Connection.RemoteIpAddress);
        await (code == 0 ? WriteJsonAsync(context, result!) : WriteErrorAsync(context, code, message)).ConfigureAwait(false);
    }

    private (int Code, string Message, Dictionary<string, object>? Result) Authenticate(string? grantType, string? appId, string? secret, IPAddress? caller, out AppState? app)
    {
        app = null;
        if (grantType != "client_credential")
        {
            return (40002, "invalid grant_type", null);
        }

        if (string.IsNullOrEmpty(appId))
        {
            return (41002, "appid missing", null);
        }

        if (string.IsNullOrEmpty(secret))
        {
            return (41004, "appsecret missing", null);
        }

        if (!_apps.TryGetValue(appId, out app))
        {
            return (40013, "invalid appid", null);
        }

        if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(secret), System.Text.Encoding.UTF8.GetBytes(app.Secret)))
        {
            return (40125, "invalid appsecret, view more at http://t.cn/RAEkdVq", null);
        }

        var ip = caller?.IsIPv4MappedToIPv6 == true ? caller.MapToIPv4() : caller;
        if (_options.IpWhitelist is { } whitelist && (ip is null || !whitelist.Contains(ip.ToString())))
        {
            return (40164, $"invalid ip {ip}, not in whitelist", null);
        }

        return (0, "ok", null);
    }

    private (int Code, string Message, Dictionary<string, object>? Result) IssueClassic(string? grantType, string? appId, string? secret, IPAddress? caller)
    {
        lock (_gate)
        {
            var auth = Authenticate(grantType, appId, secret, caller, out var app);
            if (auth.Code != 0)
            {
                return auth;
            }

            var now = _options.TimeProvider.GetUtcNow();
            RollDay(app!, now);
            if (app!.ClassicToday >= _options.ClassicDailyQuota)
            {
                return (45009, "reach max api daily quota limit", null);
            }

            app.ClassicToday++;
            if (app.Classic is { } previous && previous.SupersededAt is null)
            {
                previous.SupersededAt = now;
                previous.Grace = _options.ClassicOverlap;
            }

            var token = Issue(app, now, _options.TokenLifetime);
            app.Classic = token;
            return (0, "ok", new() { ["access_token"] = token.Value, ["expires_in"] = (long)_options.TokenLifetime.TotalSeconds });
        }
    }

    private (int Code, string Message, Dictionary<string, object>? Result) IssueStable(StableRequest request, IPAddress? caller)
    {
        lock (_gate)
        {
            var auth = Authenticate(request.grant_type, request.appid, request.secret, caller, out var app);
            if (auth.Code != 0)
            {
                return auth;
            }

            var now = _options.TimeProvider.GetUtcNow();
            RollDay(app!, now);
            if (app!.StableToday >= _options.StableDailyQuota)
            {
                return (45009, "reach max api daily quota limit", null);
            }

            var minute = now.ToUnixTimeSeconds() / 60;
            if (app.StableMinute != minute)
            {
                app.StableMinute = minute;
                app.StableThisMinute = 0;
            }

            if (app.StableThisMinute >= _options.StableMinuteQuota)
            {
                return (45011, "api minute-quota reach limit  mustslower  retry next minute", null);
            }

            app.StableToday++;
            app.StableThisMinute++;
            var current = app.Stable is { } c && c.SupersededAt is null && c.ExpiresAt > now ? c : null;

            if (request.force_refresh)
            {
                if (app.LastForcedAt is { } last && now - last < _options.ForceRefreshMinInterval)
                {
                    if (_options.RejectFastForceRefresh || current is null)
                    {
                        return (45011, "api minute-quota reach limit  mustslower  retry next minute", null);
                    }

                    return (0, "ok", StableResult(current, now));
                }

                if (app.ForcedToday >= _options.ForceRefreshDailyLimit)
                {
                    return (45009, "reach max api daily quota limit", null);
                }

                app.ForcedToday++;
                app.LastForcedAt = now;
                if (current is not null)
                {
                    current.SupersededAt = now;
                    current.Grace = TimeSpan.Zero;
                }

                current = null;
            }

            if (current is null || current.ExpiresAt - now <= _options.StableRotationWindow)
            {
                // Rotation: the old token stays valid until its own expiry.
                current = Issue(app, now, _options.TokenLifetime);
                app.Stable = current;
            }

            return (0, "ok", StableResult(current, now));
        }
    }

    private static Dictionary<string, object> StableResult(IssuedToken token, DateTimeOffset now) => new()
    {
        ["access_token"] = token.Value,
        ["expires_in"] = (long)Math.Floor((token.ExpiresAt - now).TotalSeconds),
    };

    private IssuedToken Issue(AppState app, DateTimeOffset now, TimeSpan lifetime)
    {
        var token = new IssuedToken(NewSecretValue("80_"), app.AppId, now + lifetime);
        _tokens[token.Value] = token;
        return token;
    }

    private void RollDay(AppState app, DateTimeOffset now)
    {
        var day = DateOnly.FromDateTime(now.ToOffset(_options.QuotaResetUtcOffset).DateTime);
        if (app.Day != day)
        {
            app.Day = day;
            app.ClassicToday = 0;
            app.StableToday = 0;
            app.ForcedToday = 0;
            app.TicketsToday = 0;
        }
    }
}
