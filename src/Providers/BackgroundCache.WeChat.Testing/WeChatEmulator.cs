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
