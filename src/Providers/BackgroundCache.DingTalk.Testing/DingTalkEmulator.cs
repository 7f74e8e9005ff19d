using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.Platforms.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.DingTalk.Testing;

/// <summary>
/// An in-process emulator of DingTalk's internal-app token APIs, served over real HTTP on <c>127.0.0.1</c> (a free port):
/// the new <c>POST /v1.0/oauth2/accessToken</c> and the legacy <c>GET /gettoken</c>, plus two probes that check a token
/// the way business APIs do: <c>GET /v1.0/contact/probe</c> (header <c>x-acs-dingtalk-access-token</c>; HTTP 401
/// <c>InvalidAuthentication</c> when refused) and <c>GET /user/probe?access_token=</c> (errcode 40014 when refused, also
/// for an expired token, as DingTalk does).
/// </summary>
/// <remarks>
/// DingTalk's documented rule: within its validity a fetch returns the same token and pushes its expiry out (自动续期); after
/// expiry a fetch returns a new token. Both APIs share an app's token. An IP that makes more than
/// <see cref="DingTalkEmulatorOptions.IpRateLimit"/> token calls in <see cref="DingTalkEmulatorOptions.IpRateWindow"/> gets
/// the HTML ban page (code 1111) for <see cref="DingTalkEmulatorOptions.IpBanDuration"/>. Its clock is
/// <see cref="DingTalkEmulatorOptions.TimeProvider"/>. It shares no code with the client it tests.
/// </remarks>
public sealed class DingTalkEmulator : IAsyncDisposable
{
    /// <summary>The text of the ban page (it carries DingTalk's code 1111).</summary>
    public const string IpBanPage = "<html><head><title>1111</title></head><body><h1>1111</h1><p>访问频率过高，IP已被限制访问5分钟 (too many requests: this IP is banned for 5 minutes)</p></body></html>";

    private WebApplication _app = null!;
    private readonly DingTalkEmulatorOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AppState> _apps = new(StringComparer.Ordinal);
    private readonly Queue<DingTalkFault> _faults = new();
    private readonly Queue<DateTimeOffset> _recentCalls = new();
    private DateTimeOffset _bannedUntil;
    private int _newCalls;
    private int _legacyCalls;
    private int _issued;
    private int _apiCalls;
    private int _rejectedApiCalls;

    private DingTalkEmulator(DingTalkEmulatorOptions options)
    {
        _options = options;
        foreach (var pair in options.Apps)
        {
            AddApp(pair.Key, pair.Value);
        }
    }

    /// <summary>Gets the base address of both APIs, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the number of token calls on both APIs (faulted and refused ones included).</summary>
    public int TokenCalls => Volatile.Read(ref _newCalls) + Volatile.Read(ref _legacyCalls);

    /// <summary>Gets the number of <c>v1.0/oauth2/accessToken</c> calls.</summary>
    public int NewApiTokenCalls => Volatile.Read(ref _newCalls);

    /// <summary>Gets the number of legacy <c>gettoken</c> calls.</summary>
    public int LegacyTokenCalls => Volatile.Read(ref _legacyCalls);

    /// <summary>Gets the number of distinct tokens issued (an extension is not a new token).</summary>
    public int TokensIssued => Volatile.Read(ref _issued);

    /// <summary>Gets the number of probe calls.</summary>
    public int ApiCalls => Volatile.Read(ref _apiCalls);

    /// <summary>Gets the number of probe calls refused for their token.</summary>
    public int RejectedApiCalls => Volatile.Read(ref _rejectedApiCalls);

    /// <summary>Starts an emulator on <c>127.0.0.1</c> on a free port.</summary>
    /// <param name="options">Its settings and apps.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator.</returns>
    public static async Task<DingTalkEmulator> StartAsync(DingTalkEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DingTalkEmulatorOptions();
        var emulator = new DingTalkEmulator(options);
        (emulator._app, emulator.BaseAddress) = await EmulatorServer.StartAsync(options.Port, app =>
        {
            app.MapPost("/v1.0/oauth2/accessToken", emulator.NewTokenAsync);
            app.MapGet("/gettoken", emulator.LegacyTokenAsync);
            app.MapGet("/v1.0/contact/probe", emulator.NewProbeAsync);
            app.MapGet("/user/probe", emulator.LegacyProbeAsync);
        }, cancellationToken).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Registers an app with its AppSecret.</summary>
    /// <param name="appKey">The AppKey.</param>
    /// <param name="appSecret">The AppSecret.</param>
    public void AddApp(string appKey, string appSecret)
    {
        ArgumentException.ThrowIfNullOrEmpty(appKey);
        ArgumentException.ThrowIfNullOrEmpty(appSecret);
        lock (_gate)
        {
            _apps[appKey] = new AppState(appSecret);
        }
    }

    /// <summary>Makes the next <paramref name="count"/> token calls (either API) misbehave.</summary>
    /// <param name="fault">The misbehaviour.</param>
    /// <param name="count">How many calls it affects.</param>
    public void InjectFault(DingTalkFault fault, int count = 1)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate)
        {
            for (var i = 0; i < count; i++)
            {
                _faults.Enqueue(fault);
            }
        }
    }

    /// <summary>Revokes an app's current token (as a secret reset does): probes refuse it, the next fetch issues a new one.</summary>
    /// <param name="appKey">The AppKey.</param>
    public void RevokeToken(string appKey)
    {
        lock (_gate)
        {
            if (_apps.TryGetValue(appKey, out var app))
            {
                app.Token = null;
            }
        }
    }

    /// <summary>Checks a token as a business API does, at the emulator's current time.</summary>
    /// <param name="accessToken">The token.</param>
    /// <returns><see langword="true"/> when the token is an app's current, unexpired token.</returns>
    public bool IsValid(string? accessToken)
    {
        var now = _options.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            return accessToken is not null && _apps.Values.Any(a => a.Token == accessToken && a.ExpiresAt > now);
        }
    }

    /// <summary>Gets an app's current token expiry, or null when it has none.</summary>
    /// <param name="appKey">The AppKey.</param>
    /// <returns>The expiry.</returns>
    public DateTimeOffset? GetExpiry(string appKey)
    {
        lock (_gate)
        {
            return _apps.TryGetValue(appKey, out var app) && app.Token is not null ? app.ExpiresAt : null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await EmulatorServer.StopAsync(_app).ConfigureAwait(false);
    }

    private static Task WriteJsonAsync(HttpContext context, int status, Dictionary<string, object> body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json;charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private static Task WriteNewErrorAsync(HttpContext context, int status, string code, string message) =>
        WriteJsonAsync(context, status, new() { ["code"] = code, ["message"] = message, ["requestid"] = RequestId() });

    private static Task WriteLegacyErrorAsync(HttpContext context, int errorCode, string message, string? subCode = null)
    {
        var body = new Dictionary<string, object> { ["errcode"] = errorCode, ["errmsg"] = message, ["request_id"] = RequestId() };
        if (subCode is not null)
        {
            body["sub_code"] = subCode;
            body["sub_msg"] = "没有调用该接口的权限";
        }

        return WriteJsonAsync(context, 200, body);
    }

    private static string RequestId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private async Task NewTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _newCalls);
        if (await FaultAsync(context, legacy: false).ConfigureAwait(false))
        {
            return;
        }

        string? appKey = null, appSecret = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body).ConfigureAwait(false);
            appKey = body.RootElement.TryGetProperty("appKey", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
            appSecret = body.RootElement.TryGetProperty("appSecret", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        }
        catch (JsonException)
        {
            await WriteNewErrorAsync(context, 400, "InvalidParameter", "请求体不是合法的JSON").ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(appKey) || string.IsNullOrEmpty(appSecret))
        {
            await WriteNewErrorAsync(context, 400, "MissingParameter", "appKey和appSecret不能为空").ConfigureAwait(false);
            return;
        }

        var (token, lifetime, error) = Issue(appKey!, appSecret!);
        if (error is not null)
        {
            await WriteNewErrorAsync(context, 400, error, error == "invalidClientId" ? "无效的clientId" : "无效的clientSecret").ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, 200, new() { ["accessToken"] = token!, ["expireIn"] = lifetime }).ConfigureAwait(false);
    }

    private async Task LegacyTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _legacyCalls);
        if (await FaultAsync(context, legacy: true).ConfigureAwait(false))
        {
            return;
        }

        string? appKey = context.Request.Query["appkey"];
        string? appSecret = context.Request.Query["appsecret"];
        if (string.IsNullOrEmpty(appKey) || string.IsNullOrEmpty(appSecret))
        {
            await WriteLegacyErrorAsync(context, 40089, "不合法的corpid或corpsecret").ConfigureAwait(false);
            return;
        }

        var (token, lifetime, error) = Issue(appKey!, appSecret!);
        if (error is not null)
        {
            await WriteLegacyErrorAsync(context, 40089, "不合法的corpid或corpsecret").ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, 200, new() { ["errcode"] = 0, ["errmsg"] = "ok", ["access_token"] = token!, ["expires_in"] = lifetime }).ConfigureAwait(false);
    }

    private Task NewProbeAsync(HttpContext context)
    {
        Interlocked.Increment(ref _apiCalls);
        if (IsValid(context.Request.Headers["x-acs-dingtalk-access-token"]))
        {
            return WriteJsonAsync(context, 200, new() { ["result"] = "ok" });
        }

        Interlocked.Increment(ref _rejectedApiCalls);
        return WriteNewErrorAsync(context, 401, "InvalidAuthentication", "不合法的access_token");
    }

    private Task LegacyProbeAsync(HttpContext context)
    {
        Interlocked.Increment(ref _apiCalls);
        if (IsValid(context.Request.Query["access_token"]))
        {
            return WriteJsonAsync(context, 200, new() { ["errcode"] = 0, ["errmsg"] = "ok" });
        }

        Interlocked.Increment(ref _rejectedApiCalls);
        return WriteLegacyErrorAsync(context, 40014, "不合法的access_token");
    }

    private (string? Token, long Lifetime, string? Error) Issue(string appKey, string appSecret)
    {
        var now = _options.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            if (!_apps.TryGetValue(appKey, out var app))
            {
                return (null, 0, "invalidClientId");
            }

            if (!string.Equals(app.Secret, appSecret, StringComparison.Ordinal))
            {
                return (null, 0, "invalidClientSecret");
            }

            if (app.Token is null || app.ExpiresAt <= now)
            {
                app.Token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
                _issued++;
            }

            // Within validity: the same token, its expiry pushed out (自动续期).
            app.ExpiresAt = now + _options.TokenLifetime;
            return (app.Token, (long)_options.TokenLifetime.TotalSeconds, null);
        }
    }

    /// <summary>Answers an injected fault or the IP ban, if either applies; counts the call toward the IP limit.</summary>
    private async Task<bool> FaultAsync(HttpContext context, bool legacy)
    {
        DingTalkFault? fault;
        var banned = false;
        var now = _options.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            _faults.TryDequeue(out fault);
            while (_recentCalls.Count > 0 && now - _recentCalls.Peek() >= _options.IpRateWindow)
            {
                _recentCalls.Dequeue();
            }

            _recentCalls.Enqueue(now);
            if (_recentCalls.Count > _options.IpRateLimit && _bannedUntil <= now)
            {
                _bannedUntil = now + _options.IpBanDuration;
            }

            banned = _bannedUntil > now;
        }

        if (banned || fault == DingTalkFault.IpBanPage)
        {
            context.Response.StatusCode = 403;
            context.Response.ContentType = "text/html;charset=utf-8";
            await context.Response.WriteAsync(IpBanPage).ConfigureAwait(false);
            return true;
        }

        if (fault is null)
        {
            return false;
        }

        if (fault == DingTalkFault.GatewayError || fault == DingTalkFault.NotJson)
        {
            context.Response.StatusCode = fault.HttpStatus;
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync("<html><body>Bad Gateway</body></html>").ConfigureAwait(false);
            return true;
        }

        if (legacy)
        {
            await WriteLegacyErrorAsync(context, fault.LegacyErrorCode, "emulated error", fault.LegacyErrorCode == 88 ? "60011" : null).ConfigureAwait(false);
        }
        else
        {
            await WriteNewErrorAsync(context, fault.HttpStatus, fault.NewApiCode!, "emulated error").ConfigureAwait(false);
        }

        return true;
    }

    private sealed class AppState(string secret)
    {
        public string Secret { get; } = secret;

        public string? Token { get; set; }

        public DateTimeOffset ExpiresAt { get; set; }
    }
}
