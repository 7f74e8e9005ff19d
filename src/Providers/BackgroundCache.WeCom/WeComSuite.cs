using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using BackgroundCache.Platform;
using BackgroundCache.Stores;
using BackgroundCache.WeCom.Internal;

namespace BackgroundCache.WeCom;

/// <summary>
/// A WeCom third-party app (ISV suite) registered by <c>AddWeComSuite</c>: handles the pushes to its instruction URL
/// (<c>suite_ticket</c>, <c>create_auth</c>, <c>change_auth</c>, <c>cancel_auth</c>) and manages the authorized corps.
/// Resolve it as the keyed service of the suite's name. Read tokens from the keyed <see cref="IRefreshingCache{T}"/>
/// (the <c>suite_access_token</c>) and <see cref="IRefreshingCacheSet{TKey, T}"/> (corp tokens by CorpId).
/// </summary>
public sealed class WeComSuite
{
    /// <summary>The largest push body accepted, in bytes.</summary>
    public const int MaxEventBodyBytes = 64 * 1024;

    /// <summary>WeCom waits 5 s for the answer to a push; a fetch the push started is awaited at most this long.</summary>
    private static readonly TimeSpan PushWaitLimit = TimeSpan.FromSeconds(3);

    private readonly WeComSuiteApi _api;

    internal WeComSuite(WeComSuiteApi api)
    {
        _api = api;
    }

    /// <summary>Gets the suite's registration name.</summary>
    public string Name => _api.Name;

    /// <summary>Gets the suite's SuiteId.</summary>
    public string SuiteId => _api.Options.SuiteId;

    /// <summary>
    /// Answers WeCom's URL check (GET with <c>echostr</c>): verifies the signature and returns the decrypted
    /// <c>echostr</c>, which the endpoint sends back as plain text.
    /// </summary>
    /// <param name="msgSignature">The <c>msg_signature</c> query parameter.</param>
    /// <param name="timestamp">The <c>timestamp</c> query parameter.</param>
    /// <param name="nonce">The <c>nonce</c> query parameter.</param>
    /// <param name="echo">The <c>echostr</c> query parameter.</param>
    /// <returns>The plain text to answer.</returns>
    /// <exception cref="WeComEventRejectedException">The check is forged or malformed.</exception>
    public string VerifyUrl(string msgSignature, string timestamp, string nonce, string echo)
    {
        if (string.IsNullOrEmpty(msgSignature) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(nonce) || string.IsNullOrEmpty(echo))
        {
            throw Reject(CallbackProblem.Malformed, "msg_signature, timestamp, nonce and echostr are required.");
        }

        var options = _api.Options;
        var (plain, problem, detail) = CallbackEnvelope.Decrypt(options.Token, Key(options), IsUrlCheckReceiver(options), msgSignature, timestamp, nonce, echo);
        return plain ?? throw Reject(problem, detail);
    }

    /// <summary>
    /// Handles one push to the instruction URL: verifies <c>msg_signature</c>, decrypts the message, checks that it was
    /// sealed for this suite, then acts on it (<c>suite_ticket</c>: stored, and the suite token fetched at once if there
    /// is none; <c>create_auth</c>: the code exchanged for the permanent code, stored, and the corp added;
    /// <c>cancel_auth</c>: the corp removed; <c>change_auth</c>: the corp's token refreshed). Other InfoTypes are
    /// acknowledged and ignored.
    /// </summary>
    /// <param name="msgSignature">The <c>msg_signature</c> query parameter.</param>
    /// <param name="timestamp">The <c>timestamp</c> query parameter.</param>
    /// <param name="nonce">The <c>nonce</c> query parameter.</param>
    /// <param name="body">The POST body (XML with <c>Encrypt</c>).</param>
    /// <param name="cancellationToken">Cancels the handling.</param>
    /// <returns>The push, once handled; answer WeCom with the plain text <c>success</c>.</returns>
    /// <exception cref="WeComEventRejectedException">The push is forged, for another suite, or malformed; nothing was stored.</exception>
    /// <exception cref="WeComApiException">A valid <c>create_auth</c> whose code could not be exchanged (answer a 5xx so WeCom pushes again).</exception>
    public async Task<WeComSuiteEvent> HandleEventAsync(string msgSignature, string timestamp, string nonce, string body, CancellationToken cancellationToken = default)
    {
        var options = _api.Options;
        var suiteId = options.SuiteId;
        var (_, message, problem, detail) = CallbackEnvelope.Open(
            options.Token, Key(options), id => string.Equals(id, suiteId, StringComparison.Ordinal), msgSignature, timestamp, nonce, body, MaxEventBodyBytes);
        if (message is null)
        {
            throw Reject(problem, detail);
        }

        if (Element(message, "SuiteId") is { } named && named != suiteId)
        {
            throw Reject(CallbackProblem.WrongReceiver, "the push names another SuiteId.");
        }

        var infoType = Element(message, "InfoType") ?? string.Empty;
        var createdAt = long.TryParse(Element(message, "TimeStamp"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(Math.Min(seconds, 253_402_300_799))
            : _api.Time.GetUtcNow();
        switch (infoType)
        {
            case "suite_ticket":
                var ticket = Element(message, "SuiteTicket") ?? throw Reject(CallbackProblem.Malformed, "a suite_ticket push without SuiteTicket.");
                await ReceiveTicketAsync(ticket, createdAt, cancellationToken).ConfigureAwait(false);
                return new WeComSuiteEvent(infoType, null, createdAt);

            case "create_auth" or "reset_permanent_code":
                var code = Element(message, "AuthCode") ?? throw Reject(CallbackProblem.Malformed, $"a {infoType} push without AuthCode.");
                var corpId = await AuthorizeCoreAsync(code, createdAt, cancellationToken).ConfigureAwait(false);
                return new WeComSuiteEvent(infoType, corpId, createdAt);

            case "change_auth":
                var changed = Element(message, "AuthCorpId") ?? throw Reject(CallbackProblem.Malformed, "a change_auth push without AuthCorpId.");
                if (_api.Corps.Keys.Contains(changed))
                {
                    // The corp's permissions changed: take a token that carries them now.
                    await AwaitBrieflyAsync(_api.Corps.GetOrAdd(changed).RefreshAsync(CancellationToken.None), cancellationToken).ConfigureAwait(false);
                }

                return new WeComSuiteEvent(infoType, changed, createdAt);

            case "cancel_auth":
                var cancelled = Element(message, "AuthCorpId") ?? throw Reject(CallbackProblem.Malformed, "a cancel_auth push without AuthCorpId.");
                await RemoveCoreAsync(cancelled, createdAt, cancellationToken).ConfigureAwait(false);
                return new WeComSuiteEvent(infoType, cancelled, createdAt);

            default:
                Log.EventIgnored(_api.Logger, Name, infoType);
                return new WeComSuiteEvent(infoType, Element(message, "AuthCorpId"), createdAt);
        }
    }

    /// <summary>
    /// Stores a <c>suite_ticket</c> (unless the store holds a newer one) and, when there is no usable suite token or its
    /// refreshes are failing, fetches one at once (awaited briefly, never failing the push).
    /// </summary>
    /// <param name="ticket">The ticket.</param>
    /// <param name="createdAt">When WeCom created it (the push's <c>TimeStamp</c>).</param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns><see langword="true"/> when the ticket was stored.</returns>
    public async Task<bool> ReceiveTicketAsync(string ticket, DateTimeOffset createdAt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ticket);
        if (!await _api.Tickets.SetTicketAsync(_api.TicketKey, new PushedTicket(ticket, createdAt), cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        Log.SuiteTicketReceived(_api.Logger, Name);
        var tokens = _api.SuiteToken;
        if (!tokens.TryGetValue(out _) || tokens.Status.ConsecutiveFailures > 0)
        {
            await AwaitBrieflyAsync(RefreshWithTicketAsync(tokens), cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Exchanges a temporary authorization code (from a <c>create_auth</c> push or the install redirect's <c>auth_code</c>)
    /// with <c>service/get_permanent_code</c>, stores the corp's permanent code, and adds the corp to the token set with the
    /// token the exchange returned (no further call for its first load).
    /// </summary>
    /// <param name="authCode">The temporary authorization code.</param>
    /// <param name="cancellationToken">Cancels the exchange.</param>
    /// <returns>The corp's CorpId.</returns>
    /// <exception cref="WeComApiException">WeCom refused the code or could not be reached.</exception>
    public Task<string> AuthorizeAsync(string authCode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(authCode);
        return AuthorizeCoreAsync(authCode, _api.Time.GetUtcNow(), cancellationToken);
    }

    /// <summary>Forgets a corp: its permanent code and its token (as a <c>cancel_auth</c> push does).</summary>
    /// <param name="corpId">The CorpId.</param>
    /// <param name="cancellationToken">Cancels the removal.</param>
    /// <returns><see langword="true"/> when the corp was in the set.</returns>
    public Task<bool> RemoveCorpAsync(string corpId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(corpId);
        return RemoveCoreAsync(corpId, _api.Time.GetUtcNow(), cancellationToken);
    }

    private async Task<string> AuthorizeCoreAsync(string authCode, DateTimeOffset changedAt, CancellationToken cancellationToken)
    {
        var started = _api.Time.GetUtcNow();
        using var document = await _api.PostWithSuiteTokenAsync("cgi-bin/service/get_permanent_code", [("auth_code", authCode)], cancellationToken).ConfigureAwait(false);
        var root = document.RootElement;
        var corpId = root.TryGetProperty("auth_corp_info", out var info) && info.ValueKind == JsonValueKind.Object
            ? WeComApi.ReadString(info, "corpid", _api.Subject)
            : throw WeComErrors.InvalidResponse(_api.Subject, "a get_permanent_code answer without auth_corp_info", null);
        var permanentCode = WeComApi.ReadString(root, "permanent_code", _api.Subject);
        var stored = await _api.Secrets.SetSecretAsync(
            _api.PermanentCodesScope, corpId, new StoredSecret(permanentCode, changedAt, "auth:" + AccessToken.ComputeFingerprint(authCode)), cancellationToken).ConfigureAwait(false);
        if (!stored)
        {
            return corpId; // a later change (a cancel_auth created after this code) stands
        }

        if (root.TryGetProperty("access_token", out _))
        {
            var (value, expiresIn) = WeComApi.ReadExpiring(root, "access_token", _api.Subject);
            _api.Seeds[corpId] = new AccessToken(value, started.AddSeconds(expiresIn));
        }

        Log.CorpAuthorized(_api.Logger, Name, corpId);
        var entry = _api.Corps.GetOrAdd(corpId);
        var load = entry.Status.LastRefreshedAt is not null || entry.Status.ConsecutiveFailures > 0
            ? entry.RefreshAsync(CancellationToken.None)
            : entry.GetAsync(CancellationToken.None).AsTask();
        await AwaitBrieflyAsync(load, cancellationToken).ConfigureAwait(false);
        return corpId;
    }

    private async Task<bool> RemoveCoreAsync(string corpId, DateTimeOffset changedAt, CancellationToken cancellationToken)
    {
        if (!await _api.Secrets.SetSecretAsync(_api.PermanentCodesScope, corpId, new StoredSecret(null, changedAt, "cancel_auth"), cancellationToken).ConfigureAwait(false))
        {
            return false; // an authorization created after this push stands
        }

        _api.Seeds.TryRemove(corpId, out _);
        Log.CorpCancelled(_api.Logger, Name, corpId);
        return await _api.Corps.RemoveAsync(corpId, cancellationToken).ConfigureAwait(false);
    }

    private static Func<string?, bool> IsUrlCheckReceiver(WeComSuiteOptions options) =>
        id => string.Equals(id, options.SuiteId, StringComparison.Ordinal) || (options.ProviderCorpId is { Length: > 0 } corp && string.Equals(id, corp, StringComparison.Ordinal));

    private byte[] Key(WeComSuiteOptions options) => WeChatMessageCrypto.DecodeKey(options.EncodingAESKey)
        ?? throw new InvalidOperationException($"WeComSuite:{Name}:EncodingAESKey is not 43 Base64 characters.");

    private static string? Element(XElement root, string name) => root.Element(name)?.Value is { Length: > 0 } value ? value : null;

    /// <summary>Refreshes the suite token; when the refresh joined an attempt that read the store before this ticket landed, refreshes once more.</summary>
    private static async Task<AccessToken> RefreshWithTicketAsync(IRefreshingCache<AccessToken> tokens)
    {
        try
        {
            return await tokens.RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (PushedTicketMissingException)
        {
            return await tokens.RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Waits at most <see cref="PushWaitLimit"/> for a fetch a push started; its failure is the cache's to report, never the push's.</summary>
    private async Task AwaitBrieflyAsync(Task load, CancellationToken cancellationToken)
    {
        _ = load.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            await load.WaitAsync(PushWaitLimit, _api.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Still running (readers get it when it lands) or failed (reported by the cache).
        }
    }

    private WeComEventRejectedException Reject(CallbackProblem problem, string detail)
    {
        var reason = problem switch
        {
            CallbackProblem.InvalidSignature => WeComEventRejection.InvalidSignature,
            CallbackProblem.Undecryptable => WeComEventRejection.Undecryptable,
            CallbackProblem.WrongReceiver => WeComEventRejection.WrongSuite,
            _ => WeComEventRejection.Malformed,
        };
        Log.EventRejected(_api.Logger, Name, $"{reason}: {detail}");
        return new WeComEventRejectedException(reason, $"Suite '{Name}' refused a push to its instruction URL ({reason}): {detail}");
    }
}
