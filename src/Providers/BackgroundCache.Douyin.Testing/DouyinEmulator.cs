using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.Platforms.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.Douyin.Testing;

/// <summary>
/// An in-process emulator of Douyin's app-level token APIs, served over real HTTP on <c>127.0.0.1</c> (a free port):
/// <c>POST /oauth/client_token/</c>, <c>POST /oauth/stable_client_token/</c>, and a probe
/// (<c>GET /dy_open_api/probe</c>, header <c>access-token</c>) that checks a token the way business APIs do: <c>err_no</c>
/// 0, 28001008 for an expired token, 28001003 for an unknown or superseded one.
/// </summary>
/// <remarks>
/// Douyin's documented rules: a <c>client_token</c> fetch issues a new token and the previous one keeps working for
/// <see cref="DouyinEmulatorOptions.Overlap"/> (5 minutes), only the latest two live; a stable token is the same for its whole
/// life and a new one after it expires; more than <see cref="DouyinEmulatorOptions.RateLimit"/> token calls in
/// <see cref="DouyinEmulatorOptions.RateWindow"/> answer 10020. Answers are
/// <c>{"data":{"access_token","expires_in","error_code","description"},"message","extra":{"error_code","description","logid","now"}}</c>. Its clock is
/// <see cref="DouyinEmulatorOptions.TimeProvider"/>. It shares no code with the client it tests.
/// </remarks>
public sealed class DouyinEmulator : IAsyncDisposable
{
    private WebApplication _app = null!;
    private readonly DouyinEmulatorOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AppState> _apps = new(StringComparer.Ordinal);
    private readonly Queue<DouyinFault> _faults = new();
    private int _clientCalls;
    private int _stableCalls;
    private int _issued;
    private int _apiCalls;
    private int _rejectedApiCalls;

    private DouyinEmulator(DouyinEmulatorOptions options)
    {
        _options = options;
        foreach (var pair in options.Apps)
        {
            AddApp(pair.Key, pair.Value);
        }
    }

    /// <summary>Gets the base address to point a client at, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the number of token calls on both endpoints (faulted and refused ones included).</summary>
    public int TokenCalls => Volatile.Read(ref _clientCalls) + Volatile.Read(ref _stableCalls);

    /// <summary>Gets the number of <c>client_token</c> calls.</summary>
    public int ClientTokenCalls => Volatile.Read(ref _clientCalls);

    /// <summary>Gets the number of <c>stable_client_token</c> calls.</summary>
    public int StableTokenCalls => Volatile.Read(ref _stableCalls);

    /// <summary>Gets the number of distinct tokens issued.</summary>
    public int TokensIssued => Volatile.Read(ref _issued);

    /// <summary>Gets the number of probe calls.</summary>
    public int ApiCalls => Volatile.Read(ref _apiCalls);

    /// <summary>Gets the number of probe calls refused for their token.</summary>
    public int RejectedApiCalls => Volatile.Read(ref _rejectedApiCalls);

    /// <summary>Starts an emulator on <c>127.0.0.1</c> on a free port.</summary>
    /// <param name="options">Its settings and apps.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator.</returns>
    public static async Task<DouyinEmulator> StartAsync(DouyinEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new DouyinEmulatorOptions();
        var emulator = new DouyinEmulator(options);
        (emulator._app, emulator.BaseAddress) = await EmulatorServer.StartAsync(options.Port, app =>
        {
            app.MapPost("/oauth/client_token/", ctx => emulator.TokenAsync(ctx, stable: false));
            app.MapPost("/oauth/stable_client_token/", ctx => emulator.TokenAsync(ctx, stable: true));
            app.MapGet("/dy_open_api/probe", emulator.ProbeAsync);
        }, cancellationToken).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Registers an app with its client_secret.</summary>
    /// <param name="clientKey">The client_key.</param>
    /// <param name="clientSecret">The client_secret.</param>
    public void AddApp(string clientKey, string clientSecret)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientKey);
        ArgumentException.ThrowIfNullOrEmpty(clientSecret);
        lock (_gate)
        {
            _apps[clientKey] = new AppState(clientSecret);
        }
    }

    /// <summary>Makes the next <paramref name="count"/> token calls misbehave.</summary>
    /// <param name="fault">The misbehaviour.</param>
    /// <param name="count">How many calls it affects.</param>
    public void InjectFault(DouyinFault fault, int count = 1)
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

    /// <summary>Revokes every live token of an app (a secret reset): probes refuse them, the next fetch issues a new one.</summary>
    /// <param name="clientKey">The client_key.</param>
    public void RevokeTokens(string clientKey)
    {
        lock (_gate)
        {
            if (_apps.TryGetValue(clientKey, out var app))
            {
                app.Live.Clear();
                app.Stable = null;
            }
        }
    }

    /// <summary>Checks a token as a business API does, at the emulator's current time.</summary>
    /// <param name="accessToken">The token.</param>
    /// <returns>0 when accepted; 28001008 when it expired (or its overlap ended); 28001003 when unknown or superseded.</returns>
    public int Validate(string? accessToken)
    {
        var now = _options.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            foreach (var app in _apps.Values)
            {
                foreach (var issued in app.Live.Concat(app.Stable is null ? [] : [app.Stable]))
                {
                    if (issued.Value == accessToken)
                    {
                        return issued.ExpiresAt > now ? 0 : 28001008;
                    }
                }
            }

            return 28001003;
        }
    }

    /// <summary>Checks a token as a business API does.</summary>
    /// <param name="accessToken">The token.</param>
    /// <returns><see langword="true"/> when it is accepted now.</returns>
    public bool IsValid(string? accessToken) => Validate(accessToken) == 0;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await EmulatorServer.StopAsync(_app).ConfigureAwait(false);
    }

    private Task WriteAsync(HttpContext context, Dictionary<string, object> data, string message)
    {
        context.Response.ContentType = "application/json";
        var body = new Dictionary<string, object>
        {
            ["data"] = data,
            ["message"] = message,
            ["extra"] = new Dictionary<string, object>
            {
                ["error_code"] = data["error_code"],
                ["description"] = data["description"],
                ["sub_error_code"] = 0,
                ["sub_description"] = string.Empty,
                ["logid"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)),
                ["now"] = _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds(),
            },
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private Task WriteErrorAsync(HttpContext context, long errorCode, string description) =>
        WriteAsync(context, new() { ["error_code"] = errorCode, ["description"] = description }, "error");

    private async Task TokenAsync(HttpContext context, bool stable)
    {
        Interlocked.Increment(ref stable ? ref _stableCalls : ref _clientCalls);
        DouyinFault? fault;
        lock (_gate)
        {
            _faults.TryDequeue(out fault);
        }

        if (fault is not null)
        {
            if (fault.ErrorCode != 0)
            {
                await WriteErrorAsync(context, fault.ErrorCode, "emulated error").ConfigureAwait(false);
                return;
            }

            context.Response.StatusCode = fault.HttpStatus;
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync("<html><body>Bad Gateway</body></html>").ConfigureAwait(false);
            return;
        }

        string? key = null, secret = null, grant = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body).ConfigureAwait(false);
            key = Text(body.RootElement, "client_key");
            secret = Text(body.RootElement, "client_secret");
            grant = Text(body.RootElement, "grant_type");
        }
        catch (JsonException)
        {
            // answered below as a parameter error
        }

        if (string.IsNullOrEmpty(key) || string.IsNullOrEmpty(secret) || grant != "client_credential")
        {
            await WriteErrorAsync(context, 10002, "参数错误").ConfigureAwait(false);
            return;
        }

        var (token, error) = Issue(key!, secret!, stable);
        if (error != 0)
        {
            await WriteErrorAsync(context, error, error switch
            {
                10003 => "client_key 不存在",
                10013 => "client_key 或者 client_secret 报错",
                _ => "请求太过频繁",
            }).ConfigureAwait(false);
            return;
        }

        var expiresIn = (long)Math.Ceiling((token!.ExpiresAt - _options.TimeProvider.GetUtcNow()).TotalSeconds);
        await WriteAsync(context, new() { ["access_token"] = token.Value, ["expires_in"] = expiresIn, ["error_code"] = 0, ["description"] = string.Empty }, "success").ConfigureAwait(false);
    }

    private (Issued? Token, long Error) Issue(string key, string secret, bool stable)
    {
        var now = _options.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            if (!_apps.TryGetValue(key, out var app))
            {
                return (null, 10003);
            }

            if (!string.Equals(app.Secret, secret, StringComparison.Ordinal))
            {
                return (null, 10013);
            }

            while (app.Calls.Count > 0 && now - app.Calls.Peek() >= _options.RateWindow)
            {
                app.Calls.Dequeue();
            }

            if (app.Calls.Count >= _options.RateLimit)
            {
                return (null, 10020);
            }

            app.Calls.Enqueue(now);
            if (stable)
            {
                if (app.Stable is null || app.Stable.ExpiresAt <= now)
                {
                    app.Stable = new Issued(NewToken(), now + _options.TokenLifetime);
                    _issued++;
                }

                return (app.Stable, 0);
            }

            // A new token; the previous one lives 5 more minutes at most; anything older dies (only the latest two are kept).
            if (app.Live.Count > 0)
            {
                var previous = app.Live[^1];
                var cut = now + _options.Overlap;
                previous.ExpiresAt = previous.ExpiresAt < cut ? previous.ExpiresAt : cut;
                app.Live.Clear();
                app.Live.Add(previous);
            }

            var token = new Issued(NewToken(), now + _options.TokenLifetime);
            app.Live.Add(token);
            _issued++;
            return (token, 0);
        }
    }

    private Task ProbeAsync(HttpContext context)
    {
        Interlocked.Increment(ref _apiCalls);
        var code = Validate(context.Request.Headers["access-token"]);
        if (code != 0)
        {
            Interlocked.Increment(ref _rejectedApiCalls);
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["err_no"] = code,
            ["err_msg"] = code switch { 0 => "success", 28001008 => "access_token 已过期", _ => "access_token 无效" },
            ["log_id"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)),
        }));
    }

    private static string NewToken() => "clt." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private sealed class Issued(string value, DateTimeOffset expiresAt)
    {
        public string Value { get; } = value;

        public DateTimeOffset ExpiresAt { get; set; } = expiresAt;
    }

    private sealed class AppState(string secret)
    {
        public string Secret { get; } = secret;

        public List<Issued> Live { get; } = [];

        public Issued? Stable { get; set; }

        public Queue<DateTimeOffset> Calls { get; } = new();
    }
}
