using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.Feishu.Testing;

/// <summary>
/// An in-process emulator of Feishu/Lark's <c>auth/v3</c> token APIs, served over real HTTP on <c>127.0.0.1</c> (a free
/// port): custom apps' <c>tenant_access_token/internal</c> and <c>app_access_token/internal</c>; store apps'
/// <c>app_ticket/resend</c> (which pushes an <c>app_ticket</c> event, encrypted and signed, to the app's event URL),
/// <c>app_access_token</c> and <c>tenant_access_token</c>; and every other <c>/open-apis/…</c> path as a protected API that
/// checks the Bearer token.
/// </summary>
/// <remarks>
/// It follows Feishu's documented rule: a fetch returns the token already issued while at least
/// <see cref="FeishuEmulatorOptions.RenewalWindow"/> of it remains, and a new one (the old still valid until it expires)
/// inside the window. Wrong App ID: 10003; wrong App Secret: 10014; app_ticket unknown: 10012; store app token invalid:
/// 10013; protected API with an invalid token: HTTP 400 and 99991663 (99991677 when expired, 99991661 when missing);
/// rate limit: HTTP 429, <c>x-ogw-ratelimit-reset</c> and 99991400. Its clock is
/// <see cref="FeishuEmulatorOptions.TimeProvider"/>. It shares no code with the client it tests.
/// </remarks>
public sealed class FeishuEmulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FeishuEmulatorOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Issued> _current = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Issued> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _tickets = new(StringComparer.Ordinal);
    private readonly Queue<FeishuFault> _faults = new();
    private readonly HttpClient _pushClient = new();
    private readonly List<Task> _pushes = [];
    private DateTimeOffset _minuteStart;
    private int _minuteCalls;
    private int _internalCalls;
    private int _storeAppTokenCalls;
    private int _storeTenantTokenCalls;
    private int _resendCalls;
    private int _pushesSent;
    private int _pushFailures;
    private int _apiCalls;
    private int _rejectedApiCalls;
    private int _issued;
    private int _rateLimited;

    private FeishuEmulator(WebApplication app, FeishuEmulatorOptions options)
    {
        _app = app;
        _options = options;
    }

    /// <summary>Gets the base address to point a client at, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the number of custom-app token calls (<c>tenant_access_token/internal</c> and <c>app_access_token/internal</c>).</summary>
    public int InternalTokenCalls => Volatile.Read(ref _internalCalls);

    /// <summary>Gets the number of store-app <c>app_access_token</c> calls.</summary>
    public int StoreAppTokenCalls => Volatile.Read(ref _storeAppTokenCalls);

    /// <summary>Gets the number of store-app <c>tenant_access_token</c> calls.</summary>
    public int StoreTenantTokenCalls => Volatile.Read(ref _storeTenantTokenCalls);

    /// <summary>Gets the number of <c>app_ticket/resend</c> calls.</summary>
    public int ResendCalls => Volatile.Read(ref _resendCalls);

    /// <summary>Gets the number of <c>app_ticket</c> pushes sent (or attempted) to event URLs.</summary>
    public int PushesSent => Volatile.Read(ref _pushesSent);

    /// <summary>Gets the number of pushes started by <c>app_ticket/resend</c> that found no listener at the event URL.</summary>
    public int PushFailures => Volatile.Read(ref _pushFailures);

    /// <summary>Gets the number of calls to protected APIs.</summary>
    public int ApiCalls => Volatile.Read(ref _apiCalls);

    /// <summary>Gets the number of protected API calls rejected for their token.</summary>
    public int RejectedApiCalls => Volatile.Read(ref _rejectedApiCalls);

    /// <summary>Gets the number of distinct tokens issued.</summary>
    public int TokensIssued => Volatile.Read(ref _issued);

    /// <summary>Gets the number of calls answered with the rate limit (99991400).</summary>
    public int RateLimitedCalls => Volatile.Read(ref _rateLimited);

    /// <summary>Starts an emulator on <c>127.0.0.1</c>.</summary>
    /// <param name="options">Its settings and apps.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator.</returns>
    public static async Task<FeishuEmulator> StartAsync(FeishuEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FeishuEmulatorOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, options.Port));
        var app = builder.Build();
        var emulator = new FeishuEmulator(app, options);
        app.MapPost("/open-apis/auth/v3/tenant_access_token/internal", ctx => emulator.InternalTokenAsync(ctx, "tenant_access_token"));
        app.MapPost("/open-apis/auth/v3/app_access_token/internal", ctx => emulator.InternalTokenAsync(ctx, "app_access_token"));
        app.MapPost("/open-apis/auth/v3/app_ticket/resend", emulator.ResendAsync);
        app.MapPost("/open-apis/auth/v3/app_access_token", emulator.StoreAppTokenAsync);
        app.MapPost("/open-apis/auth/v3/tenant_access_token", emulator.StoreTenantTokenAsync);
        app.Map("/open-apis/{**path}", emulator.ProtectedApiAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        emulator.BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/");
        return emulator;
    }

    /// <summary>Makes the next <paramref name="count"/> token calls misbehave.</summary>
    /// <param name="fault">The misbehaviour.</param>
    /// <param name="count">How many calls it affects.</param>
    public void InjectFault(FeishuFault fault, int count = 1)
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

    /// <summary>Revokes a token: protected APIs reject it (99991663) and the next fetch of its family issues a new one.</summary>
    /// <param name="token">The token.</param>
    public void Revoke(string token)
    {
        lock (_gate)
        {
            if (_tokens.TryGetValue(token, out var issued))
            {
                issued.Revoked = true;
            }
        }
    }

    /// <summary>Whether <paramref name="token"/> was issued here, is not revoked and has not expired on the emulator's clock.</summary>
    /// <param name="token">The token.</param>
    /// <returns><see langword="true"/> when a protected API would accept it.</returns>
    public bool IsValid(string token)
    {
        lock (_gate)
        {
            return _tokens.TryGetValue(token, out var issued) && !issued.Revoked && issued.ExpiresAt > _options.TimeProvider.GetUtcNow();
        }
    }

    /// <summary>
    /// Pushes a new <c>app_ticket</c> event to the store app's event URL now (as Feishu does every hour), encrypted and signed
    /// when it has an Encrypt Key.
    /// </summary>
    /// <param name="appId">The store app's App ID.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The HTTP status the event URL answered, or 0 when the app has no event URL.</returns>
    public async Task<int> PushAppTicketAsync(string appId, CancellationToken cancellationToken = default)
    {
        var app = _options.StoreApps[appId];
        var now = _options.TimeProvider.GetUtcNow();
        var ticket = "emu-ticket-" + RandomNumberGenerator.GetHexString(24, lowercase: true);
        lock (_gate)
        {
            if (!_tickets.TryGetValue(appId, out var list))
            {
                _tickets[appId] = list = [];
            }

            list.Add(ticket);
            if (list.Count > 2)
            {
                list.RemoveAt(0); // the latest two are accepted
            }
        }

        Interlocked.Increment(ref _pushesSent);
        if (app.EventEndpoint is null)
        {
            return 0;
        }

        var plain = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["ts"] = (now.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture),
            ["uuid"] = Guid.NewGuid().ToString("N"),
            ["token"] = app.VerificationToken,
            ["type"] = "event_callback",
            ["event"] = new Dictionary<string, string> { ["app_id"] = appId, ["app_ticket"] = ticket, ["type"] = "app_ticket" },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, app.EventEndpoint);
        var body = plain;
        if (!string.IsNullOrEmpty(app.EncryptKey))
        {
            // Written as Feishu writes it: Base64 needs no escaping, and a "+" escaped as \u002B (System.Text.Json's default)
            // would change the bytes the signature covers for receivers that sign the re-serialized body.
            body = "{\"encrypt\":\"" + Encrypt(app.EncryptKey, plain) + "\"}";
            var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            var nonce = RandomNumberGenerator.GetHexString(16, lowercase: true);
            request.Headers.Add("X-Lark-Request-Timestamp", timestamp);
            request.Headers.Add("X-Lark-Request-Nonce", nonce);
            request.Headers.Add("X-Lark-Signature", Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(timestamp + nonce + app.EncryptKey + body))));
        }

        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await _pushClient.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return (int)response.StatusCode;
    }

    /// <summary>Waits until every push started by <c>app_ticket/resend</c> so far has been answered.</summary>
    /// <returns>A task that completes when they have.</returns>
    public Task WaitForPushesAsync()
    {
        lock (_gate)
        {
            return Task.WhenAll(_pushes.ToArray());
        }
    }

    /// <summary>Encrypts an event body as Feishu does: AES-256-CBC, key SHA-256(Encrypt Key), a random IV before the ciphertext, Base64.</summary>
    /// <param name="encryptKey">The Encrypt Key.</param>
    /// <param name="plain">The event JSON.</param>
    /// <returns>The value of the <c>encrypt</c> field.</returns>
    public static string Encrypt(string encryptKey, string plain)
    {
        using var aes = Aes.Create();
        aes.Key = SHA256.HashData(Encoding.UTF8.GetBytes(encryptKey));
        aes.GenerateIV();
        var cipher = aes.EncryptCbc(Encoding.UTF8.GetBytes(plain), aes.IV, PaddingMode.PKCS7);
        return Convert.ToBase64String([.. aes.IV, .. cipher]);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            await WaitForPushesAsync().ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            // A push to an endpoint already gone.
        }

        _pushClient.Dispose();
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    internal static Task WriteErrorAsync(HttpContext ctx, int status, int code, string message)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new Dictionary<string, object> { ["code"] = code, ["msg"] = message });
    }

    internal static Task WriteRateLimitAsync(HttpContext ctx, int status, int resetSeconds)
    {
        ctx.Response.Headers["x-ogw-ratelimit-limit"] = "100";
        ctx.Response.Headers["x-ogw-ratelimit-reset"] = resetSeconds.ToString(CultureInfo.InvariantCulture);
        return WriteErrorAsync(ctx, status, 99991400, "request trigger frequency limit");
    }

    private async Task InternalTokenAsync(HttpContext ctx, string field)
    {
        Interlocked.Increment(ref _internalCalls);
        if (await TryFaultAsync(ctx).ConfigureAwait(false))
        {
            return;
        }

        var body = await ReadAsync(ctx).ConfigureAwait(false);
        var appId = Field(body, "app_id");
        if (appId is null || !_options.Apps.TryGetValue(appId, out var secret))
        {
            await WriteErrorAsync(ctx, 400, 10003, "invalid param").ConfigureAwait(false);
            return;
        }

        if (Field(body, "app_secret") != secret)
        {
            await WriteErrorAsync(ctx, 400, 10014, "app secret invalid").ConfigureAwait(false);
            return;
        }

        await WriteTokenAsync(ctx, field, $"{field}|{appId}", field == "tenant_access_token" ? "t-" : "a-").ConfigureAwait(false);
    }

    private async Task ResendAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _resendCalls);
        if (await TryFaultAsync(ctx).ConfigureAwait(false))
        {
            return;
        }

        var body = await ReadAsync(ctx).ConfigureAwait(false);
        if (await CheckStoreAppAsync(ctx, body).ConfigureAwait(false) is not { } appId)
        {
            return;
        }

        lock (_gate)
        {
            // Feishu pushes after answering; the push runs on its own.
            _pushes.Add(Task.Run(async () =>
            {
                try
                {
                    await PushAppTicketAsync(appId).ConfigureAwait(false);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref _pushFailures); // the event URL did not answer; Feishu would push again later
                }
            }));
        }

        await ctx.Response.WriteAsJsonAsync(new Dictionary<string, object> { ["code"] = 0, ["msg"] = "ok" }).ConfigureAwait(false);
    }

    private async Task StoreAppTokenAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _storeAppTokenCalls);
        if (await TryFaultAsync(ctx).ConfigureAwait(false))
        {
            return;
        }

        var body = await ReadAsync(ctx).ConfigureAwait(false);
        if (await CheckStoreAppAsync(ctx, body).ConfigureAwait(false) is not { } appId)
        {
            return;
        }

        var ticket = Field(body, "app_ticket");
        bool known;
        lock (_gate)
        {
            known = ticket is not null && _tickets.TryGetValue(appId, out var list) && list.Contains(ticket);
        }

        if (!known)
        {
            await WriteErrorAsync(ctx, 400, 10012, "app_ticket is invalid").ConfigureAwait(false);
            return;
        }

        await WriteTokenAsync(ctx, "app_access_token", $"store_app|{appId}", "a-").ConfigureAwait(false);
    }

    private async Task StoreTenantTokenAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _storeTenantTokenCalls);
        if (await TryFaultAsync(ctx).ConfigureAwait(false))
        {
            return;
        }

        var body = await ReadAsync(ctx).ConfigureAwait(false);
        var appToken = Field(body, "app_access_token");
        var tenantKey = Field(body, "tenant_key");
        string? appId = null;
        lock (_gate)
        {
            if (appToken is not null && _tokens.TryGetValue(appToken, out var issued) && !issued.Revoked
                && issued.ExpiresAt > _options.TimeProvider.GetUtcNow() && issued.Family.StartsWith("store_app|", StringComparison.Ordinal))
            {
                appId = issued.Family["store_app|".Length..];
            }
        }

        if (appId is null)
        {
            await WriteErrorAsync(ctx, 400, 10013, "app access token invalid").ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(tenantKey))
        {
            await WriteErrorAsync(ctx, 400, 10003, "invalid param").ConfigureAwait(false);
            return;
        }

        await WriteTokenAsync(ctx, "tenant_access_token", $"store_tenant|{appId}|{tenantKey}", "t-").ConfigureAwait(false);
    }

    private async Task ProtectedApiAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _apiCalls);
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal) || header.Length <= 7)
        {
            Interlocked.Increment(ref _rejectedApiCalls);
            await WriteErrorAsync(ctx, 400, 99991661, "Missing access token for authorization. Please make a request with token attached.").ConfigureAwait(false);
            return;
        }

        var token = header[7..];
        int code;
        lock (_gate)
        {
            code = !_tokens.TryGetValue(token, out var issued) || issued.Revoked ? 99991663
                : issued.ExpiresAt <= _options.TimeProvider.GetUtcNow() ? 99991677
                : 0;
        }

        if (code != 0)
        {
            Interlocked.Increment(ref _rejectedApiCalls);
            await WriteErrorAsync(ctx, 400, code, code == 99991677 ? "Authentication token expired." : "Invalid access token for authorization. Please make a request with token attached.").ConfigureAwait(false);
            return;
        }

        await ctx.Response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["code"] = 0,
            ["msg"] = "success",
            ["data"] = new Dictionary<string, object> { ["items"] = Array.Empty<object>(), ["has_more"] = false, ["path"] = ctx.Request.Path.Value ?? string.Empty },
        }).ConfigureAwait(false);
    }

    private async Task<string?> CheckStoreAppAsync(HttpContext ctx, JsonElement body)
    {
        var appId = Field(body, "app_id");
        if (appId is null || !_options.StoreApps.TryGetValue(appId, out var app))
        {
            await WriteErrorAsync(ctx, 400, 10003, "invalid param").ConfigureAwait(false);
            return null;
        }

        if (Field(body, "app_secret") != app.AppSecret)
        {
            await WriteErrorAsync(ctx, 400, 10014, "app secret invalid").ConfigureAwait(false);
            return null;
        }

        return appId;
    }

    /// <summary>Applies an injected fault or the rate limit; true when the call was answered.</summary>
    private async Task<bool> TryFaultAsync(HttpContext ctx)
    {
        FeishuFault? fault = null;
        var limited = false;
        var reset = 0;
        lock (_gate)
        {
            if (_faults.Count > 0)
            {
                fault = _faults.Dequeue();
            }
            else if (_options.TokenCallsPerMinute > 0)
            {
                var now = _options.TimeProvider.GetUtcNow();
                if (now - _minuteStart >= TimeSpan.FromMinutes(1))
                {
                    _minuteStart = now;
                    _minuteCalls = 0;
                }

                limited = ++_minuteCalls > _options.TokenCallsPerMinute;
                reset = (int)Math.Ceiling((_minuteStart + TimeSpan.FromMinutes(1) - now).TotalSeconds);
            }
        }

        if (limited)
        {
            Interlocked.Increment(ref _rateLimited);
            await WriteRateLimitAsync(ctx, 429, reset).ConfigureAwait(false);
            return true;
        }

        if (fault is null)
        {
            return false;
        }

        await fault.Apply(ctx).ConfigureAwait(false);
        return true;
    }

    private async Task WriteTokenAsync(HttpContext ctx, string field, string family, string prefix)
    {
        var now = _options.TimeProvider.GetUtcNow();
        Issued token;
        lock (_gate)
        {
            if (!_current.TryGetValue(family, out token!) || token.Revoked || token.ExpiresAt - now < _options.RenewalWindow)
            {
                token = new Issued(prefix + RandomNumberGenerator.GetHexString(40, lowercase: true), family, now + _options.TokenLifetime);
                _current[family] = token;
                _tokens[token.Value] = token;
                _issued++;
            }
        }

        await ctx.Response.WriteAsJsonAsync(new Dictionary<string, object>
        {
            ["code"] = 0,
            ["msg"] = "ok",
            [field] = token.Value,
            ["expire"] = (int)(token.ExpiresAt - now).TotalSeconds,
        }).ConfigureAwait(false);
    }

    private static async Task<JsonElement> ReadAsync(HttpContext ctx)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(ctx.Request.Body).ConfigureAwait(false);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }

    private static string? Field(JsonElement body, string name) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private sealed class Issued(string value, string family, DateTimeOffset expiresAt)
    {
        public string Value { get; } = value;

        public string Family { get; } = family;

        public DateTimeOffset ExpiresAt { get; } = expiresAt;

        public bool Revoked { get; set; }
    }
}
