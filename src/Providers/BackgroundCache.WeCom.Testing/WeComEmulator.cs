using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackgroundCache.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeCom.Testing;

/// <summary>
/// An in-process emulator of WeCom's token APIs, served over real HTTP on <c>127.0.0.1</c> (a free port):
/// <c>GET /cgi-bin/gettoken</c>, <c>GET /cgi-bin/get_jsapi_ticket</c>, <c>GET /cgi-bin/ticket/get?type=agent_config</c>,
/// the protected probes <c>GET /cgi-bin/get_api_domain_ip</c> and <c>GET /cgi-bin/agent/get?agentid=</c>, and the ISV
/// suite APIs <c>POST /cgi-bin/service/get_suite_token</c>, <c>get_permanent_code</c> and <c>get_corp_token</c>, plus
/// signed and encrypted pushes to a suite's instruction URL.
/// </summary>
/// <remarks>
/// Tokens belong to the pair (CorpId, app secret): two apps of one corp get two tokens, and a token used for another
/// app's agent is answered 301002. Invalid tokens are answered 40014, expired ones 42001; suite tokens 40082 and 42009.
/// Untrusted callers get 60020, rate limits 45009. Its clock is <see cref="WeComEmulatorOptions.TimeProvider"/>.
/// It shares no code with the client it tests.
/// </remarks>
public sealed partial class WeComEmulator : IAsyncDisposable
{
    private static readonly string[] IpList = ["182.254.11.176", "182.254.78.66"];
    private readonly WebApplication _app;
    private readonly WeComEmulatorOptions _options;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, AppState> _apps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SuiteState> _suites = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Issued> _tokens = new(StringComparer.Ordinal);
    private readonly Queue<WeComFault> _faults = new();
    private readonly Dictionary<string, int> _corpTokenCallsByCorp = new(StringComparer.Ordinal);
    private readonly HttpClient _pushClient = new();
    private int _getTokenCalls;
    private int _corpTicketCalls;
    private int _agentTicketCalls;
    private int _suiteTokenCalls;
    private int _permanentCodeCalls;
    private int _corpTokenCalls;
    private int _apiCalls;
    private int _rejectedApiCalls;

    private WeComEmulator(WebApplication app, WeComEmulatorOptions options)
    {
        _app = app;
        _options = options;
    }

    /// <summary>Gets the base address to point a client at, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Gets the number of <c>gettoken</c> calls (faulted ones included).</summary>
    public int GetTokenCalls => Volatile.Read(ref _getTokenCalls);

    /// <summary>Gets the number of corp JS-SDK ticket calls (<c>get_jsapi_ticket</c>).</summary>
    public int CorpTicketCalls => Volatile.Read(ref _corpTicketCalls);

    /// <summary>Gets the number of agent JS-SDK ticket calls (<c>ticket/get?type=agent_config</c>).</summary>
    public int AgentTicketCalls => Volatile.Read(ref _agentTicketCalls);

    /// <summary>Gets the number of <c>get_suite_token</c> calls.</summary>
    public int SuiteTokenCalls => Volatile.Read(ref _suiteTokenCalls);

    /// <summary>Gets the number of <c>get_permanent_code</c> calls.</summary>
    public int PermanentCodeCalls => Volatile.Read(ref _permanentCodeCalls);

    /// <summary>Gets the number of <c>get_corp_token</c> calls.</summary>
    public int CorpTokenCalls => Volatile.Read(ref _corpTokenCalls);

    /// <summary>Gets the number of calls to the protected probe APIs.</summary>
    public int ApiCalls => Volatile.Read(ref _apiCalls);

    /// <summary>Gets the number of protected API calls refused for their token.</summary>
    public int RejectedApiCalls => Volatile.Read(ref _rejectedApiCalls);

    /// <summary>Starts an emulator on <c>127.0.0.1</c>.</summary>
    /// <param name="options">Its settings.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>The running emulator.</returns>
    public static async Task<WeComEmulator> StartAsync(WeComEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WeComEmulatorOptions();
        var app = LoopbackHost.Create(options.Port);
        var emulator = new WeComEmulator(app, options);
        emulator.Map(app);
        emulator.BaseAddress = await LoopbackHost.StartAsync(app, cancellationToken).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Registers an app of a corp: its secret and AgentId. A corp has as many apps as secrets.</summary>
    /// <param name="corpId">The CorpId.</param>
    /// <param name="secret">The app's secret.</param>
    /// <param name="agentId">The app's AgentId.</param>
    public void AddApp(string corpId, string secret, long agentId)
    {
        ArgumentException.ThrowIfNullOrEmpty(corpId);
        ArgumentException.ThrowIfNullOrEmpty(secret);
        lock (_gate)
        {
            _apps[AppKey(corpId, secret)] = new AppState(corpId, secret, agentId);
        }
    }

    /// <summary>Makes the next <paramref name="count"/> token or ticket calls misbehave.</summary>
    /// <param name="fault">The misbehaviour.</param>
    /// <param name="count">How many calls it affects.</param>
    public void InjectFault(WeComFault fault, int count = 1)
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

    /// <summary>Invalidates every token of an app early, as WeCom may "for operational needs".</summary>
    /// <param name="corpId">The CorpId.</param>
    /// <param name="secret">The app's secret.</param>
    /// <returns>How many live tokens were invalidated.</returns>
    public int InvalidateTokens(string corpId, string secret)
    {
        var key = AppKey(corpId, secret);
        lock (_gate)
        {
            var now = Now;
            var live = _tokens.Values.Where(t => t.Owner == key && !t.Invalidated && t.ExpiresAt > now).ToList();
            live.ForEach(t => t.Invalidated = true);
            return live.Count;
        }
    }

    /// <summary>Checks an access token as a business API does, at the emulator's current time.</summary>
    /// <param name="accessToken">The token.</param>
    /// <param name="agentId">The agent the call is about, if any (301002 when the token belongs to another app).</param>
    /// <returns>0 when accepted; otherwise the errcode WeCom answers (41001, 40014, 42001, 301002).</returns>
    public int ValidateAccessToken(string? accessToken, long? agentId = null)
    {
        lock (_gate)
        {
            return ValidateLocked(accessToken, agentId, TokenKind.Access);
        }
    }

    /// <summary>Gets every token, ticket, permanent code and auth code the emulator has issued (for secret-hygiene checks).</summary>
    /// <returns>The issued values.</returns>
    public IReadOnlyCollection<string> GetIssuedSecrets()
    {
        lock (_gate)
        {
            return [.. _tokens.Keys, .. _suites.Values.SelectMany(s => s.Tickets.Keys.Concat(s.PermanentCodes.Values).Concat(s.AuthCodes.Keys))];
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _pushClient.Dispose();
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    internal static Task WriteErrorAsync(HttpContext context, int errorCode, string errorMessage) =>
        WriteJsonAsync(context, new() { ["errcode"] = errorCode, ["errmsg"] = $"{errorMessage}, hint: [{RequestId()}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e={errorCode}" });

    private DateTimeOffset Now => _options.TimeProvider.GetUtcNow();

    private static string AppKey(string corpId, string secret) => corpId + "\n" + secret;

    private static string CorpOwner(string suiteId, string corpId) => $"suite:{suiteId}:{corpId}";

    private static Task WriteJsonAsync(HttpContext context, Dictionary<string, object> body)
    {
        context.Response.ContentType = "application/json; charset=UTF-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body));
    }

    private static string RequestId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static string NewValue(string prefix) =>
        prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(96)).Replace('+', '-').Replace('/', '_').TrimEnd('=');

    private static Task OkAsync(HttpContext context, string property, string value, TimeSpan life, params (string Name, object Value)[] more)
    {
        var body = new Dictionary<string, object> { ["errcode"] = 0, ["errmsg"] = "ok", [property] = value, ["expires_in"] = (long)life.TotalSeconds };
        foreach (var (name, extra) in more)
        {
            body[name] = extra;
        }

        return WriteJsonAsync(context, body);
    }

    private SuiteState Suite(string suiteId) =>
        _suites.TryGetValue(suiteId, out var suite) ? suite : throw new InvalidOperationException($"No suite '{suiteId}': call AddSuite first.");

    private void Map(WebApplication app)
    {
        app.MapGet("/cgi-bin/gettoken", ctx => Answer(ctx, ref _getTokenCalls, GetToken));
        app.MapGet("/cgi-bin/get_jsapi_ticket", ctx => Answer(ctx, ref _corpTicketCalls, c => Ticket(c, agent: false)));
        app.MapGet("/cgi-bin/ticket/get", ctx => Answer(ctx, ref _agentTicketCalls, c => Ticket(c, agent: true)));
        app.MapGet("/cgi-bin/get_api_domain_ip", ctx => ProtectedAsync(ctx, null));
        app.MapGet("/cgi-bin/agent/get", ctx => ProtectedAsync(ctx, long.TryParse(ctx.Request.Query["agentid"], NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : -1));
        app.MapPost("/cgi-bin/service/get_suite_token", ctx => AnswerBody(ctx, ref _suiteTokenCalls, SuiteToken));
        app.MapPost("/cgi-bin/service/get_permanent_code", ctx => AnswerBody(ctx, ref _permanentCodeCalls, PermanentCode));
        app.MapPost("/cgi-bin/service/get_corp_token", ctx => AnswerBody(ctx, ref _corpTokenCalls, CorpToken));
    }

    private Task Answer(HttpContext context, ref int counter, Func<HttpContext, Func<HttpContext, Task>> handle)
    {
        Interlocked.Increment(ref counter);
        if (NextFault() is { } fault)
        {
            return fault.Apply(context);
        }

        if (_options.TrustedIps is { } trusted && !trusted.Contains(Caller(context)))
        {
            return WriteErrorAsync(context, 60020, $"not allow to access from your ip, from ip: {Caller(context)}");
        }

        Func<HttpContext, Task> answer;
        lock (_gate)
        {
            answer = handle(context);
        }

        return answer(context);
    }

    private Task AnswerBody(HttpContext context, ref int counter, Func<HttpContext, JsonElement, Func<HttpContext, Task>> handle)
    {
        Interlocked.Increment(ref counter);
        return ReadThenAnswerAsync(context, handle);
    }

    private async Task ReadThenAnswerAsync(HttpContext context, Func<HttpContext, JsonElement, Func<HttpContext, Task>> handle)
    {
        JsonElement body;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            body = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            await WriteErrorAsync(context, 47001, "data format error").ConfigureAwait(false);
            return;
        }

        var dummy = 0;
        await Answer(context, ref dummy, c => handle(c, body)).ConfigureAwait(false);
    }

    private WeComFault? NextFault()
    {
        lock (_gate)
        {
            return _faults.TryDequeue(out var fault) ? fault : null;
        }
    }

    private static string Caller(HttpContext context)
    {
        var ip = context.Connection.RemoteIpAddress;
        return (ip?.IsIPv4MappedToIPv6 == true ? ip.MapToIPv4() : ip)?.ToString() ?? string.Empty;
    }

    private Func<HttpContext, Task> GetToken(HttpContext context)
    {
        var corpId = context.Request.Query["corpid"].ToString();
        var secret = context.Request.Query["corpsecret"].ToString();
        if (corpId.Length == 0)
        {
            return c => WriteErrorAsync(c, 41002, "corpid missing");
        }

        if (secret.Length == 0)
        {
            return c => WriteErrorAsync(c, 41004, "corpsecret missing");
        }

        if (!_apps.Values.Any(a => a.CorpId == corpId))
        {
            return c => WriteErrorAsync(c, 40013, "invalid corpid");
        }

        if (!_apps.TryGetValue(AppKey(corpId, secret), out var app))
        {
            return c => WriteErrorAsync(c, 40001, "invalid credential");
        }

        var now = Now;
        if (!app.Calls.TryTake(now, _options.GetTokenMinuteLimit, _options.GetTokenHourLimit))
        {
            return c => WriteErrorAsync(c, 45009, "api freq out of limit");
        }

        var key = AppKey(corpId, secret);
        if (_options.SameTokenWithinValidity
            && _tokens.Values.Where(t => t.Owner == key && t.Kind == TokenKind.Access && !t.Invalidated && t.ExpiresAt > now).OrderBy(t => t.ExpiresAt).LastOrDefault() is { } current)
        {
            return c => OkAsync(c, "access_token", current.Value, current.ExpiresAt - now);
        }

        var token = Issue(TokenKind.Access, key, app.AgentId, now + _options.TokenLifetime);
        return c => OkAsync(c, "access_token", token.Value, _options.TokenLifetime);
    }

    private Func<HttpContext, Task> Ticket(HttpContext context, bool agent)
    {
        var value = context.Request.Query["access_token"].ToString();
        var code = ValidateLocked(value, null, TokenKind.Access);
        if (code == 0 && agent && context.Request.Query["type"] != "agent_config")
        {
            code = 40097;
        }

        if (code != 0)
        {
            return c => WriteErrorAsync(c, code, ErrorText(code));
        }

        var token = _tokens[value];
        var owner = agent ? token.Owner : token.Owner.Split('\n')[0];
        var limit = agent ? _options.AgentTicketHourLimit : _options.CorpTicketHourLimit;
        var counters = agent
            ? (_apps.TryGetValue(owner, out var app) ? app.AgentTickets : null)
            : _apps.Values.FirstOrDefault(a => a.CorpId == owner)?.CorpTickets;

        if (counters is not null && !counters.TryTake(Now, int.MaxValue, limit))
        {
            return c => WriteErrorAsync(c, 45009, "api freq out of limit");
        }

        var ticket = NewValue(agent ? "agt_" : "jst_");
        Issue(TokenKind.Ticket, owner, null, Now + _options.TicketLifetime, ticket);
        return c => OkAsync(c, "ticket", ticket, _options.TicketLifetime);
    }

    private Task ProtectedAsync(HttpContext context, long? agentId)
    {
        Interlocked.Increment(ref _apiCalls);
        int code;
        lock (_gate)
        {
            code = ValidateLocked(context.Request.Query["access_token"], agentId, TokenKind.Access);
        }

        if (code != 0)
        {
            Interlocked.Increment(ref _rejectedApiCalls);
            return WriteErrorAsync(context, code, ErrorText(code));
        }

        return WriteJsonAsync(context, new() { ["errcode"] = 0, ["errmsg"] = "ok", ["ip_list"] = IpList });
    }

    private int ValidateLocked(string? value, long? agentId, TokenKind kind)
    {
        var suite = kind == TokenKind.Suite;
        if (string.IsNullOrEmpty(value))
        {
            return 41001;
        }

        if (!_tokens.TryGetValue(value, out var token) || token.Kind != kind || token.Invalidated)
        {
            return suite ? 40082 : 40014;
        }

        if (Now >= token.ExpiresAt)
        {
            return suite ? 42009 : 42001;
        }

        return agentId is { } id && token.AgentId is { } own && id != own ? 301002 : 0;
    }

    private Issued Issue(TokenKind kind, string owner, long? agentId, DateTimeOffset expiresAt, string? value = null)
    {
        var token = new Issued(value ?? NewValue(kind == TokenKind.Suite ? "suite_" : string.Empty), kind, owner, agentId, expiresAt);
        _tokens[token.Value] = token;
        return token;
    }

    private static string? Text(JsonElement body, string property) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string ErrorText(int code) => code switch
    {
        40014 => "invalid access_token",
        41001 => "access_token missing",
        42001 => "access_token expired",
        40082 => "invalid suite_token",
        42009 => "suite_token expired",
        301002 => "not allow operate another agent with this accesstoken.",
        40097 => "invalid args",
        _ => "error",
    };

    private enum TokenKind
    {
        Access,
        Suite,
        Ticket,
    }

    /// <summary>Calls per minute and per hour, in fixed windows as WeCom counts them.</summary>
    private sealed class Windows
    {
        private long _minute = -1;
        private long _hour = -1;
        private int _inMinute;
        private int _inHour;

        public bool TryTake(DateTimeOffset now, int perMinute, int perHour)
        {
            var minute = now.ToUnixTimeSeconds() / 60;
            if (minute != _minute)
            {
                _minute = minute;
                _inMinute = 0;
            }

            if (minute / 60 != _hour)
            {
                _hour = minute / 60;
                _inHour = 0;
            }

            if (_inMinute >= perMinute || _inHour >= perHour)
            {
                return false;
            }

            _inMinute++;
            _inHour++;
            return true;
        }
    }

    private sealed class AppState(string corpId, string secret, long agentId)
    {
        public string CorpId { get; } = corpId;

        public string Secret { get; } = secret;

        public long AgentId { get; } = agentId;

        public Windows Calls { get; } = new();

        public Windows AgentTickets { get; } = new();

        public Windows CorpTickets { get; } = new();
    }

    private sealed class Issued(string value, TokenKind kind, string owner, long? agentId, DateTimeOffset expiresAt)
    {
        public string Value { get; } = value;

        public TokenKind Kind { get; } = kind;

        public string Owner { get; } = owner;

        public long? AgentId { get; } = agentId;

        public DateTimeOffset ExpiresAt { get; } = expiresAt;

        public bool Invalidated { get; set; }
    }
}
