using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackgroundCache.Testing;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeCom.Testing;

/// <summary>
/// The ISV suite side of the emulator: suites and their tickets, authorization codes and permanent codes, the suite and
/// corp token APIs, and the signed, encrypted pushes to a suite's instruction URL.
/// </summary>
public sealed partial class WeComEmulator
{
    /// <summary>Registers an ISV suite with its callback settings.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="suiteSecret">The SuiteSecret.</param>
    /// <param name="token">The callback Token.</param>
    /// <param name="encodingAesKey">The callback EncodingAESKey (43 characters).</param>
    public void AddSuite(string suiteId, string suiteSecret, string token, string encodingAesKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(suiteId);
        ArgumentException.ThrowIfNullOrEmpty(suiteSecret);
        ArgumentException.ThrowIfNullOrEmpty(token);
        if (encodingAesKey is not { Length: 43 })
        {
            throw new ArgumentException("An EncodingAESKey is 43 characters.", nameof(encodingAesKey));
        }

        lock (_gate)
        {
            _suites[suiteId] = new SuiteState(suiteId, suiteSecret, token, Convert.FromBase64String(encodingAesKey + "="));
        }
    }

    /// <summary>Gets the permanent code WeCom holds for a corp's authorization of a suite, or null.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="corpId">The CorpId.</param>
    /// <returns>The permanent code.</returns>
    public string? GetPermanentCode(string suiteId, string corpId)
    {
        lock (_gate)
        {
            return Suite(suiteId).PermanentCodes.TryGetValue(corpId, out var code) ? code : null;
        }
    }

    /// <summary>Creates a temporary authorization code of a corp installing the suite (the install redirect's <c>auth_code</c>).</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="corpId">The installing corp.</param>
    /// <returns>The code, valid for <see cref="WeComEmulatorOptions.AuthCodeLifetime"/>, once.</returns>
    public string CreateAuthCode(string suiteId, string corpId)
    {
        ArgumentException.ThrowIfNullOrEmpty(corpId);
        lock (_gate)
        {
            var code = NewValue("auth_");
            Suite(suiteId).AuthCodes[code] = (corpId, Now + _options.AuthCodeLifetime);
            return code;
        }
    }

    /// <summary>Records an authorization made earlier (no push): the corp's permanent code for the suite.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="corpId">The authorizing corp.</param>
    /// <returns>The permanent code.</returns>
    public string AuthorizeCorp(string suiteId, string corpId)
    {
        ArgumentException.ThrowIfNullOrEmpty(corpId);
        lock (_gate)
        {
            var code = NewValue("pc_");
            Suite(suiteId).PermanentCodes[corpId] = code;
            return code;
        }
    }

    /// <summary>Issues a <c>suite_ticket</c> without pushing it (for a store filled before the host starts).</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <returns>The ticket, valid for <see cref="WeComEmulatorOptions.SuiteTicketLifetime"/>.</returns>
    public string IssueSuiteTicket(string suiteId)
    {
        lock (_gate)
        {
            var ticket = NewValue("st_");
            Suite(suiteId).Tickets[ticket] = Now + _options.SuiteTicketLifetime;
            return ticket;
        }
    }

    /// <summary>Gets the number of successful <c>get_corp_token</c> calls for one corp.</summary>
    /// <param name="corpId">The CorpId.</param>
    /// <returns>The count.</returns>
    public int GetCorpTokenCallsOf(string corpId)
    {
        lock (_gate)
        {
            return _corpTokenCallsByCorp.TryGetValue(corpId, out var count) ? count : 0;
        }
    }

    /// <summary>Pushes a new <c>suite_ticket</c> to the instruction URL (WeCom does every 10 minutes).</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="instructionUrl">The suite's instruction URL.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The URL's answer.</returns>
    public Task<WeComPushResult> PushSuiteTicketAsync(string suiteId, Uri instructionUrl, CancellationToken cancellationToken = default)
    {
        string ticket;
        lock (_gate)
        {
            ticket = NewValue("st_");
            Suite(suiteId).Tickets[ticket] = Now + _options.SuiteTicketLifetime;
        }

        return PushAsync(suiteId, instructionUrl, Message(suiteId, "suite_ticket", ("SuiteTicket", ticket)), cancellationToken);
    }

    /// <summary>A corp installs the suite: an auth code is created and pushed as <c>create_auth</c>.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="corpId">The installing corp.</param>
    /// <param name="instructionUrl">The suite's instruction URL.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The URL's answer.</returns>
    public Task<WeComPushResult> PushCreateAuthAsync(string suiteId, string corpId, Uri instructionUrl, CancellationToken cancellationToken = default)
    {
        var code = CreateAuthCode(suiteId, corpId);
        return PushAsync(suiteId, instructionUrl, Message(suiteId, "create_auth", ("AuthCode", code), ("State", string.Empty)), cancellationToken);
    }

    /// <summary>A corp uninstalls the suite: its permanent code and tokens die, and <c>cancel_auth</c> is pushed.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="corpId">The corp.</param>
    /// <param name="instructionUrl">The suite's instruction URL.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The URL's answer.</returns>
    public Task<WeComPushResult> PushCancelAuthAsync(string suiteId, string corpId, Uri instructionUrl, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            Suite(suiteId).PermanentCodes.Remove(corpId);
            foreach (var token in _tokens.Values.Where(t => t.Owner == CorpOwner(suiteId, corpId)))
            {
                token.Invalidated = true;
            }
        }

        return PushAsync(suiteId, instructionUrl, Message(suiteId, "cancel_auth", ("AuthCorpId", corpId)), cancellationToken);
    }

    /// <summary>
    /// Seals <paramref name="xml"/> for the suite (AES-256-CBC with the SuiteId as receiver) and posts it to the instruction
    /// URL with a valid <c>msg_signature</c>, as WeCom does.
    /// </summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="instructionUrl">The suite's instruction URL.</param>
    /// <param name="xml">The plaintext message.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The URL's answer.</returns>
    public async Task<WeComPushResult> PushAsync(string suiteId, Uri instructionUrl, string xml, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instructionUrl);
        ArgumentNullException.ThrowIfNull(xml);
        SuiteState suite;
        lock (_gate)
        {
            suite = Suite(suiteId);
        }

        var (encrypted, timestamp, nonce, signature) = CallbackSeal.SealAndSign(suite.Key, suite.Token, suiteId, xml, Now);
        var uri = new UriBuilder(instructionUrl) { Query = $"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}" }.Uri;
        var body = $"<xml><ToUserName><![CDATA[{suiteId}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[]]></AgentID></xml>";
        var (status, answer) = await CallbackSeal.PostAsync(_pushClient, uri, body, cancellationToken).ConfigureAwait(false);
        return new WeComPushResult(status, answer);
    }

    /// <summary>Checks the instruction URL as WeCom does when it is saved: a GET with an encrypted <c>echostr</c>.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="instructionUrl">The suite's instruction URL.</param>
    /// <param name="echo">The plaintext the URL must answer.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The URL's answer (the check passes when the body equals <paramref name="echo"/>).</returns>
    public async Task<WeComPushResult> VerifyUrlAsync(string suiteId, Uri instructionUrl, string echo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instructionUrl);
        SuiteState suite;
        lock (_gate)
        {
            suite = Suite(suiteId);
        }

        var (encrypted, timestamp, nonce, signature) = CallbackSeal.SealAndSign(suite.Key, suite.Token, suiteId, echo, Now);
        var uri = new UriBuilder(instructionUrl)
        {
            Query = $"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={Uri.EscapeDataString(encrypted)}",
        }.Uri;
        using var response = await _pushClient.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        return new WeComPushResult(response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Builds a push message as WeCom does: SuiteId, InfoType, TimeStamp (emulator clock), then the given elements.</summary>
    /// <param name="suiteId">The SuiteId.</param>
    /// <param name="infoType">The InfoType.</param>
    /// <param name="elements">The other elements.</param>
    /// <returns>The plaintext XML.</returns>
    public string Message(string suiteId, string infoType, params (string Name, string Value)[] elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        var xml = new StringBuilder("<xml>");
        xml.Append(CultureInfo.InvariantCulture, $"<SuiteId><![CDATA[{suiteId}]]></SuiteId>");
        xml.Append(CultureInfo.InvariantCulture, $"<InfoType><![CDATA[{infoType}]]></InfoType>");
        xml.Append(CultureInfo.InvariantCulture, $"<TimeStamp>{Now.ToUnixTimeSeconds()}</TimeStamp>");
        foreach (var (name, value) in elements)
        {
            xml.Append(CultureInfo.InvariantCulture, $"<{name}><![CDATA[{value}]]></{name}>");
        }

        return xml.Append("</xml>").ToString();
    }

    private Func<HttpContext, Task> SuiteToken(HttpContext context, JsonElement body)
    {
        var suiteId = Text(body, "suite_id");
        if (suiteId is null || !_suites.TryGetValue(suiteId, out var suite))
        {
            return c => WriteErrorAsync(c, 40086, "invalid suite_id");
        }

        if (Text(body, "suite_secret") != suite.Secret)
        {
            return c => WriteErrorAsync(c, 40089, "invalid suite_secret");
        }

        if (Text(body, "suite_ticket") is not { } ticket || !suite.Tickets.TryGetValue(ticket, out var until) || until <= Now)
        {
            return c => WriteErrorAsync(c, 40085, "invalid suite_ticket");
        }

        var token = Issue(TokenKind.Suite, "suite:" + suiteId, null, Now + _options.TokenLifetime);
        return c => OkAsync(c, "suite_access_token", token.Value, _options.TokenLifetime);
    }

    private Func<HttpContext, Task> PermanentCode(HttpContext context, JsonElement body)
    {
        if (SuiteOf(context) is not { } suite)
        {
            var error = SuiteTokenError(context);
            return c => WriteErrorAsync(c, error, ErrorText(error));
        }

        if (Text(body, "auth_code") is not { } code || !suite.AuthCodes.Remove(code, out var auth) || auth.ExpiresAt <= Now)
        {
            return c => WriteErrorAsync(c, 40029, "invalid code");
        }

        var permanent = NewValue("pc_");
        suite.PermanentCodes[auth.CorpId] = permanent;
        var token = Issue(TokenKind.Access, CorpOwner(suite.SuiteId, auth.CorpId), null, Now + _options.TokenLifetime);
        return c => OkAsync(
            c,
            "access_token",
            token.Value,
            _options.TokenLifetime,
            ("permanent_code", permanent),
            ("auth_corp_info", new Dictionary<string, object> { ["corpid"] = auth.CorpId, ["corp_name"] = "Corp " + auth.CorpId }));
    }

    private Func<HttpContext, Task> CorpToken(HttpContext context, JsonElement body)
    {
        if (SuiteOf(context) is not { } suite)
        {
            var error = SuiteTokenError(context);
            return c => WriteErrorAsync(c, error, ErrorText(error));
        }

        var corpId = Text(body, "auth_corpid") ?? string.Empty;
        if (!suite.PermanentCodes.TryGetValue(corpId, out var permanent) || Text(body, "permanent_code") != permanent)
        {
            return c => WriteErrorAsync(c, 40084, "invalid permanent_code");
        }

        _corpTokenCallsByCorp[corpId] = _corpTokenCallsByCorp.GetValueOrDefault(corpId) + 1;
        var token = Issue(TokenKind.Access, CorpOwner(suite.SuiteId, corpId), null, Now + _options.TokenLifetime);
        return c => OkAsync(c, "access_token", token.Value, _options.TokenLifetime);
    }

    private SuiteState? SuiteOf(HttpContext context) =>
        SuiteTokenError(context) == 0 ? _suites[_tokens[context.Request.Query["suite_access_token"].ToString()].Owner["suite:".Length..]] : null;

    private int SuiteTokenError(HttpContext context) => ValidateLocked(context.Request.Query["suite_access_token"], null, TokenKind.Suite);

    private sealed class SuiteState(string suiteId, string secret, string token, byte[] key)
    {
        public string SuiteId { get; } = suiteId;

        public string Secret { get; } = secret;

        public string Token { get; } = token;

        public byte[] Key { get; } = key;

        public Dictionary<string, DateTimeOffset> Tickets { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, (string CorpId, DateTimeOffset ExpiresAt)> AuthCodes { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> PermanentCodes { get; } = new(StringComparer.Ordinal);
    }
}
