using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>
/// An in-process emulator of WeChat's Official Account token APIs, served over real HTTP on <c>127.0.0.1</c> (a free port):
/// <c>GET /cgi-bin/token</c>, <c>POST /cgi-bin/stable_token</c>, <c>GET /cgi-bin/ticket/getticket</c>, and the protected
/// probes <c>GET /cgi-bin/get_api_domain_ip</c> and <c>GET /cgi-bin/getcallbackip</c> that check the token.
/// </summary>
/// <remarks>
/// It follows WeChat's documented behaviour: every classic call issues a new token and the previous one dies after
/// <see cref="WeChatEmulatorOptions.ClassicOverlap"/>; stable tokens are a separate family that normal calls return
/// unchanged until the last <see cref="WeChatEmulatorOptions.StableRotationWindow"/> of their life; forced refreshes are
/// limited; quotas, whitelist and errcodes are as documented. Its clock is
/// <see cref="WeChatEmulatorOptions.TimeProvider"/>, so a test can simulate a day in milliseconds.
/// It shares no code with the client it tests.
/// </remarks>
public sealed partial class WeChatEmulator : IAsyncDisposable
{
    private static readonly string[] IpList = ["101.226.103.0/25", "101.226.233.128/25"];
    private readonly WebApplication _app;
    private readonly WeChatEmulatorOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AppState> _apps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IssuedToken> _tokens = new(StringComparer.Ordinal);
    private readonly Queue<WeChatFault> _faults = new();
    private int _heldCalls;
    private int _classicCalls;
    private int _stableCalls;
    private int _forcedCalls;
    private int _ticketCalls;
    private int _quotaCalls;
    private int _apiCalls;
    private int _rejectedApiCalls;

    private WeChatEmulator(WebApplication app, WeChatEmulatorOptions options)
    {
        _app = app;
        _options = options;
        foreach (var (appId, secret) in options.Apps)
        {
            AddApp(appId, secret);
        }
    }

    /// <summary>Gets the base address to point a client at, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the number of token calls (classic and stable, faulted ones included).</summary>
    public int TokenCalls => Volatile.Read(ref _classicCalls) + Volatile.Read(ref _stableCalls);

    /// <summary>
    /// Gets the number of calls held right now by a <see cref="WeChatFault.Delay(TimeSpan)"/> fault. A call counts once its
    /// delay is armed on <see cref="WeChatEmulatorOptions.TimeProvider"/>, so a test that waits for this count and then
    /// advances a fake clock by the delay releases the call for sure.
    /// </summary>
    public int HeldCalls => Volatile.Read(ref _heldCalls);

    /// <summary>Gets the number of classic <c>cgi-bin/token</c> calls.</summary>
    public int ClassicTokenCalls => Volatile.Read(ref _classicCalls);

    /// <summary>Gets the number of <c>stable_token</c> calls.</summary>
    public int StableTokenCalls => Volatile.Read(ref _stableCalls);

    /// <summary>Gets the number of <c>stable_token</c> calls with <c>force_refresh: true</c>.</summary>
    public int ForcedRefreshCalls => Volatile.Read(ref _forcedCalls);

    /// <summary>Gets the number of <c>openapi/quota/get</c> calls.</summary>
    public int QuotaQueryCalls => Volatile.Read(ref _quotaCalls);

    /// <summary>Gets the number of <c>ticket/getticket</c> calls.</summary>
    public int TicketCalls => Volatile.Read(ref _ticketCalls);

    /// <summary>Gets the number of calls to the protected probe APIs.</summary>
    public int ApiCalls => Volatile.Read(ref _apiCalls);

    /// <summary>Gets the number of protected API calls rejected for their token.</summary>
    public int RejectedApiCalls => Volatile.Read(ref _rejectedApiCalls);

    /// <summary>
    /// Starts an emulator on <c>127.0.0.1</c> on a free port.
    /// </summary>
    /// <param name="options">Its settings and apps.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator.</returns>
    public static async Task<WeChatEmulator> StartAsync(WeChatEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WeChatEmulatorOptions();
        var app = LoopbackHost.Create(options.Port);
        var emulator = new WeChatEmulator(app, options);
        emulator.Map(app);
        emulator.BaseAddress = await LoopbackHost.StartAsync(app, cancellationToken).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Registers an app (an Official Account) with its AppSecret.</summary>
    /// <param name="appId">The AppId.</param>
    /// <param name="appSecret">The AppSecret.</param>
    public void AddApp(string appId, string appSecret)
    {
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentException.ThrowIfNullOrEmpty(appSecret);
        lock (_gate)
        {
            _apps[appId] = new AppState(appId, appSecret);
        }
    }

    /// <summary>Makes the next <paramref name="count"/> token calls (classic or stable) misbehave.</summary>
    /// <param name="fault">The misbehaviour.</param>
    /// <param name="count">How many calls it affects.</param>
    public void InjectFault(WeChatFault fault, int count = 1)
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

    /// <summary>Resets an app's daily quotas, like the operator's <c>clear_quota</c>.</summary>
    /// <param name="appId">The AppId.</param>
    public void ClearQuota(string appId)
    {
        lock (_gate)
        {
            if (_apps.TryGetValue(appId, out var app))
            {
                app.ClassicToday = 0;
                app.StableToday = 0;
                app.ForcedToday = 0;
            }
        }
    }

    /// <summary>
    /// Checks an access token as a business API does, at the emulator's current time.
    /// </summary>
    /// <param name="accessToken">The token.</param>
    /// <returns>0 when accepted; otherwise the errcode WeChat answers (40001, 40014, 41001, 42001).</returns>
    public int ValidateAccessToken(string? accessToken)
    {
        lock (_gate)
        {
            return ValidateLocked(accessToken, _options.TimeProvider.GetUtcNow());
        }
    }

    /// <summary>Gets every token and ticket the emulator has issued (for secret-hygiene checks).</summary>
    /// <returns>The issued values.</returns>
    public IReadOnlyCollection<string> GetIssuedSecrets()
    {
        lock (_gate)
        {
            return [.. _tokens.Keys, .. _apps.Values.SelectMany(a => a.Tickets)];
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopPushesAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    internal static Task WriteErrorAsync(HttpContext context, int errorCode, string errorMessage) =>
        WriteJsonAsync(context, new Dictionary<string, object> { ["errcode"] = errorCode, ["errmsg"] = $"{errorMessage} rid: {RequestId()}" });

    private static Task WriteJsonAsync(HttpContext context, Dictionary<string, object> body)
    {
        context.Response.ContentType = "application/json; encoding=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private static string RequestId()
    {
        Span<byte> bytes = stackalloc byte[12];
        RandomNumberGenerator.Fill(bytes);
        var hex = Convert.ToHexStringLower(bytes);
        return $"{hex[..8]}-{hex[8..16]}-{hex[16..]}";
    }

    private static string NewSecretValue(string prefix)
    {
        Span<byte> bytes = stackalloc byte[112];
        RandomNumberGenerator.Fill(bytes);
        return prefix + Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_').TrimEnd('=');
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/cgi-bin/token", ClassicTokenAsync);
        app.MapPost("/cgi-bin/stable_token", StableTokenAsync);
        app.MapMethods("/cgi-bin/stable_token", ["GET", "PUT", "DELETE"], ctx => WriteErrorAsync(ctx, 43002, "require POST method"));
        app.MapGet("/cgi-bin/get_api_domain_ip", ctx => ProtectedApiAsync(ctx));
        app.MapGet("/cgi-bin/getcallbackip", ctx => ProtectedApiAsync(ctx));
        app.MapGet("/cgi-bin/ticket/getticket", TicketAsync);
        app.MapPost("/cgi-bin/openapi/quota/get", QuotaAsync);
        MapOpenPlatform(app);
    }

    /// <summary>Plays the next injected fault, if any; returns true when it answered the call.</summary>
    private async Task<bool> ApplyFaultAsync(HttpContext context)
    {
        WeChatFault? fault;
        lock (_gate)
        {
            if (!_faults.TryDequeue(out fault))
            {
                return false;
            }
        }

        if (fault.DelayBeforeAnswer is { } delay)
        {
            // The delay's timer exists once Task.Delay returns: counting the call as held only then lets a test advance a
            // fake clock past it without a race (advancing before the timer exists would leave the call waiting).
            var wait = Task.Delay(delay, _options.TimeProvider, context.RequestAborted);
            Interlocked.Increment(ref _heldCalls);
            try
            {
                await wait.ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _heldCalls);
            }

            return false;
        }

        await fault.Apply(context).ConfigureAwait(false);
        return true;
    }

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

    private int ValidateLocked(string? accessToken, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(accessToken))
        {
            return 41001;
        }

        if (!_tokens.TryGetValue(accessToken, out var token))
        {
            return 40014;
        }

        if (token.SupersededAt is { } supersededAt && now >= supersededAt + token.Grace)
        {
            return 40001;
        }

        return now >= token.ExpiresAt ? _options.ExpiredTokenErrorCode : 0;
    }

    private Task ProtectedApiAsync(HttpContext context)
    {
        Interlocked.Increment(ref _apiCalls);
        int code;
        lock (_gate)
        {
            code = ValidateLocked(context.Request.Query["access_token"], _options.TimeProvider.GetUtcNow());
        }

        if (code != 0)
        {
            Interlocked.Increment(ref _rejectedApiCalls);
            return WriteErrorAsync(context, code, ErrorText(code));
        }

        return WriteJsonAsync(context, new() { ["ip_list"] = IpList });
    }

    private Task TicketAsync(HttpContext context)
    {
        Interlocked.Increment(ref _ticketCalls);
        int code;
        string? ticket = null;
        lock (_gate)
        {
            var now = _options.TimeProvider.GetUtcNow();
            code = ValidateLocked(context.Request.Query["access_token"], now);
            if (code == 0 && context.Request.Query["type"] != "jsapi" && context.Request.Query["type"] != "wx_card")
            {
                code = 40097;
            }

            if (code == 0)
            {
                var app = _apps[_tokens[context.Request.Query["access_token"]!].AppId];
                ticket = NewSecretValue("kgt8ON7yVITDhtdwci0qe");
                app.Tickets.Add(ticket);
                app.TicketsToday++;
            }
        }

        if (code != 0)
        {
            return WriteErrorAsync(context, code, ErrorText(code));
        }

        return WriteJsonAsync(context, new()
        {
            ["errcode"] = 0,
            ["errmsg"] = "ok",
            ["ticket"] = ticket!,
            ["expires_in"] = (long)_options.TicketLifetime.TotalSeconds,
        });
    }

    /// <summary>
    /// <c>POST /cgi-bin/openapi/quota/get?access_token=…</c> with <c>{"cgi_path": "/cgi-bin/token"}</c> (or
    /// <c>/cgi-bin/stable_token</c>): the app's own count of today's calls, as WeChat answers it
    /// (<c>{"quota": {"daily_limit", "used", "remain"}}</c>); another path is 76021.
    /// </summary>
    private async Task QuotaAsync(HttpContext context)
    {
        Interlocked.Increment(ref _quotaCalls);
        string? path = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            path = body.RootElement.TryGetProperty("cgi_path", out var value) ? value.GetString() : null;
        }
        catch (JsonException)
        {
            path = null;
        }

        int code;
        long limit = 0, used = 0;
        lock (_gate)
        {
            var now = _options.TimeProvider.GetUtcNow();
            code = ValidateLocked(context.Request.Query["access_token"], now);
            if (code == 0)
            {
                var app = _apps[_tokens[context.Request.Query["access_token"]!].AppId];
                RollDay(app, now);
                (code, limit, used) = path switch
                {
                    "/cgi-bin/token" => (0, _options.ClassicDailyQuota, app.ClassicToday),
                    "/cgi-bin/stable_token" => (0, _options.StableDailyQuota, app.StableToday),
                    _ => (76021, 0L, 0L),
                };
            }
        }

        if (code != 0)
        {
            await (code == 76021 ? WriteErrorAsync(context, code, "cgi_path not found, please check") : WriteErrorAsync(context, code, ErrorText(code))).ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, new()
        {
            ["errcode"] = 0,
            ["errmsg"] = "ok",
            ["quota"] = new Dictionary<string, long> { ["daily_limit"] = limit, ["used"] = used, ["remain"] = limit - used },
        }).ConfigureAwait(false);
    }

    private static string ErrorText(int code) => code switch
    {
        40001 => "invalid credential, access_token is invalid or not latest",
        40014 => "invalid access_token",
        41001 => "access_token missing",
        42001 => "access_token expired",
        40097 => "invalid args",
        _ => "error",
    };

    private sealed class AppState(string appId, string secret)
    {
        public string AppId { get; } = appId;

        public string Secret { get; } = secret;

        public IssuedToken? Classic { get; set; }

        public IssuedToken? Stable { get; set; }

        public DateOnly Day { get; set; }

        public int ClassicToday { get; set; }

        public int StableToday { get; set; }

        public long StableMinute { get; set; }

        public int StableThisMinute { get; set; }

        public int ForcedToday { get; set; }

        public DateTimeOffset? LastForcedAt { get; set; }

        public int TicketsToday { get; set; }

        public List<string> Tickets { get; } = [];
    }

    private sealed class IssuedToken(string value, string appId, DateTimeOffset expiresAt)
    {
        public string Value { get; } = value;

        public string AppId { get; } = appId;

        public DateTimeOffset ExpiresAt { get; } = expiresAt;

        public DateTimeOffset? SupersededAt { get; set; }

        public TimeSpan Grace { get; set; }
    }

#pragma warning disable IDE1006, SA1300 // WeChat's wire names.
    private sealed record StableRequest(string? grant_type, string? appid, string? secret, bool force_refresh);
#pragma warning restore IDE1006, SA1300
}
