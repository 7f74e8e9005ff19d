using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>
/// The Open Platform (third-party platform) side of the emulator: <c>cgi-bin/component/api_component_token</c>,
/// <c>api_query_auth</c>, <c>api_authorizer_token</c>, <c>api_create_preauthcode</c>, <c>api_get_authorizer_info</c> and
/// <c>api_start_push_ticket</c> (the component token accepted as <c>?access_token=</c> and <c>?component_access_token=</c>),
/// and encrypted pushes of
/// <c>component_verify_ticket</c> and authorization events to a platform's event URL, sealed with the emulator's own
/// implementation of WeChat's message crypto.
/// </summary>
public sealed partial class WeChatEmulator
{
    private readonly Dictionary<string, ComponentState> _components = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Component, DateTimeOffset ExpiresAt)> _componentTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _authorizerTokenCallsByApp = new(StringComparer.Ordinal);
    private readonly List<ITimer> _pushTimers = [];
    private readonly List<Task> _pushes = [];
    private readonly HttpClient _pushClient = new();
    private int _componentTokenCalls;
    private int _queryAuthCalls;
    private int _authorizerTokenCalls;
    private int _preAuthCodeCalls;
    private int _authorizerInfoCalls;
    private int _startPushTicketCalls;
    private int _authorizerTokenInFlight;
    private int _peakAuthorizerTokenInFlight;
    private bool _pushesStopped;

    /// <summary>Gets the number of <c>api_component_token</c> calls.</summary>
    public int ComponentTokenCalls => Volatile.Read(ref _componentTokenCalls);

    /// <summary>Gets the number of <c>api_query_auth</c> calls.</summary>
    public int QueryAuthCalls => Volatile.Read(ref _queryAuthCalls);

    /// <summary>Gets the number of <c>api_authorizer_token</c> calls.</summary>
    public int AuthorizerTokenCalls => Volatile.Read(ref _authorizerTokenCalls);

    /// <summary>Gets the number of <c>api_create_preauthcode</c> calls.</summary>
    public int PreAuthCodeCalls => Volatile.Read(ref _preAuthCodeCalls);

    /// <summary>Gets the number of <c>api_get_authorizer_info</c> calls.</summary>
    public int AuthorizerInfoCalls => Volatile.Read(ref _authorizerInfoCalls);

    /// <summary>Gets the number of <c>api_start_push_ticket</c> calls.</summary>
    public int StartPushTicketCalls => Volatile.Read(ref _startPushTicketCalls);

    /// <summary>Gets the most <c>api_authorizer_token</c> calls that were in flight at once.</summary>
    public int PeakConcurrentAuthorizerTokenCalls => Volatile.Read(ref _peakAuthorizerTokenInFlight);

    /// <summary>Registers a third-party platform with its secret and its event URL's message crypto settings.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="componentAppSecret">The platform's AppSecret.</param>
    /// <param name="token">The event URL's message-check Token.</param>
    /// <param name="encodingAesKey">The event URL's EncodingAESKey (43 characters).</param>
    public void AddComponent(string componentAppId, string componentAppSecret, string token, string encodingAesKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(componentAppId);
        ArgumentException.ThrowIfNullOrEmpty(componentAppSecret);
        ArgumentException.ThrowIfNullOrEmpty(token);
        if (encodingAesKey is not { Length: 43 })
        {
            throw new ArgumentException("An EncodingAESKey is 43 characters.", nameof(encodingAesKey));
        }

        lock (_gate)
        {
            _components[componentAppId] = new ComponentState(componentAppId, componentAppSecret, token, Convert.FromBase64String(encodingAesKey + "="));
        }
    }

    /// <summary>
    /// Sets the platform's event URL (as in the Open Platform console): <c>api_start_push_ticket</c> pushes a ticket to it
    /// at once. <see cref="StartPushingTickets(string, Uri, TimeSpan?)"/> sets it too.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    public void SetComponentEventUrl(string componentAppId, Uri eventUrl)
    {
        ArgumentNullException.ThrowIfNull(eventUrl);
        lock (_gate)
        {
            Component(componentAppId).EventUrl = eventUrl;
        }
    }

    /// <summary>
    /// Waits until the pushes the emulator started on its own (scheduled tickets, the ticket <c>api_start_push_ticket</c>
    /// sends) have been answered: a test's signal that a push has landed.
    /// </summary>
    /// <returns>A task that completes when no such push is in flight.</returns>
    public Task WhenPushesCompleteAsync()
    {
        lock (_gate)
        {
            _pushes.RemoveAll(t => t.IsCompleted);
            return Task.WhenAll([.. _pushes]);
        }
    }

    /// <summary>Issues a new <c>component_verify_ticket</c> without pushing it (earlier ones stay valid until they expire).</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <returns>The ticket.</returns>
    public string IssueComponentVerifyTicket(string componentAppId)
    {
        lock (_gate)
        {
            var component = Component(componentAppId);
            var ticket = "ticket@@@" + NewSecretValue(string.Empty)[..60];
            component.Tickets[ticket] = _options.TimeProvider.GetUtcNow() + _options.ComponentVerifyTicketLifetime;
            return ticket;
        }
    }

    /// <summary>Issues a new ticket and pushes it, encrypted, to the platform's event URL (as WeChat does every 10 minutes).</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer.</returns>
    public Task<WeChatPushResult> PushComponentVerifyTicketAsync(string componentAppId, Uri eventUrl, CancellationToken cancellationToken = default)
    {
        var ticket = IssueComponentVerifyTicket(componentAppId);
        return PushAsync(componentAppId, eventUrl, Message(componentAppId, "component_verify_ticket", ("ComponentVerifyTicket", ticket)), cancellationToken);
    }

    /// <summary>
    /// Pushes a ticket now and then every <paramref name="interval"/> (default
    /// <see cref="WeChatEmulatorOptions.ComponentVerifyTicketInterval"/>) of the emulator's clock, until the returned object
    /// or the emulator is disposed.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="interval">The push interval.</param>
    /// <returns>Stops the pushes when disposed.</returns>
    public IAsyncDisposable StartPushingTickets(string componentAppId, Uri eventUrl, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(eventUrl);
        var period = interval ?? _options.ComponentVerifyTicketInterval;
        SetComponentEventUrl(componentAppId, eventUrl);
        var timer = _options.TimeProvider.CreateTimer(
            _ =>
            {
                lock (_gate)
                {
                    if (_pushesStopped)
                    {
                        return;
                    }

                    _pushes.RemoveAll(t => t.IsCompleted);
                    _pushes.Add(PushQuietlyAsync(componentAppId, eventUrl));
                }
            },
            null,
            TimeSpan.Zero,
            period);
        lock (_gate)
        {
            _pushTimers.Add(timer);
        }

        return new PushSchedule(this, timer);
    }

    /// <summary>
    /// Authorizes the platform for an account without any push: registers the authorizer (a new authorization replaces the
    /// previous one) and returns the authorization code that <c>api_query_auth</c> exchanges (the authorization page's
    /// redirect carries it as <c>auth_code</c>).
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The authorization code.</returns>
    public string Authorize(string componentAppId, string authorizerAppId)
    {
        ArgumentException.ThrowIfNullOrEmpty(authorizerAppId);
        lock (_gate)
        {
            var component = Component(componentAppId);
            var code = "queryauthcode@@@" + NewSecretValue(string.Empty)[..40];
            component.Codes[code] = (authorizerAppId, _options.TimeProvider.GetUtcNow() + _options.AuthorizationCodeLifetime);
            component.Authorizers[authorizerAppId] = new AuthorizerState(null);
            if (!_apps.ContainsKey(authorizerAppId))
            {
                _apps[authorizerAppId] = new AppState(authorizerAppId, NewSecretValue("s"));
            }

            return code;
        }
    }

    /// <summary>
    /// Authorizes the platform for an account and returns its refresh token at once, as if the code had already been
    /// exchanged: for tests that start with authorizers already in the platform's store.
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The authorizer's refresh token.</returns>
    public string AuthorizeWithRefreshToken(string componentAppId, string authorizerAppId)
    {
        var code = Authorize(componentAppId, authorizerAppId);
        lock (_gate)
        {
            var component = Component(componentAppId);
            component.Codes.Remove(code);
            var refresh = "refreshtoken@@@" + NewSecretValue(string.Empty)[..60];
            component.Authorizers[authorizerAppId] = new AuthorizerState(refresh);
            return refresh;
        }
    }

    /// <summary>Authorizes the platform for an account and pushes <c>authorized</c> with the code to the event URL.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <param name="eventUrl">The platform's event URL.</param>
    /// <param name="infoType"><c>authorized</c>, or <c>updateauthorized</c> for a change of permissions.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer.</returns>
    public Task<WeChatPushResult> PushAuthorizedAsync(string componentAppId, string authorizerAppId, Uri eventUrl, string infoType = "authorized", CancellationToken cancellationToken = default)
    {
        var code = Authorize(componentAppId, authorizerAppId);
        var expires = (_options.TimeProvider.GetUtcNow() + _options.AuthorizationCodeLifetime).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return PushAsync(componentAppId, eventUrl, Message(componentAppId, infoType, ("AuthorizerAppid", authorizerAppId), ("AuthorizationCode", code), ("AuthorizationCodeExpiredTime", expires), ("PreAuthCode", "preauthcode@@@emulator")), cancellationToken);
    }

    /// <summary>
    /// Revokes an authorization: its refresh token answers 61023 from now on; with <paramref name="eventUrl"/>, pushes
    /// <c>unauthorized</c> to it (without, the platform learns it at its next refresh).
    /// </summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <param name="eventUrl">The platform's event URL, or <see langword="null"/> for a silent revocation.</param>
    /// <param name="cancellationToken">Cancels the push.</param>
    /// <returns>The event URL's answer, or <see langword="null"/> without a push.</returns>
    public async Task<WeChatPushResult?> RevokeAsync(string componentAppId, string authorizerAppId, Uri? eventUrl = null, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            Component(componentAppId).Authorizers.Remove(authorizerAppId);
        }

        return eventUrl is null
            ? null
            : await PushAsync(componentAppId, eventUrl, Message(componentAppId, "unauthorized", ("AuthorizerAppid", authorizerAppId)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gets the refresh token WeChat currently accepts for an authorizer, or <see langword="null"/>.</summary>
    /// <param name="componentAppId">The platform's AppId.</param>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The current refresh token.</returns>
    public string? GetAuthorizerRefreshToken(string componentAppId, string authorizerAppId)
    {
        lock (_gate)
        {
            return Component(componentAppId).Authorizers.TryGetValue(authorizerAppId, out var state) ? state.RefreshToken : null;
        }
    }

    /// <summary>Gets the number of <c>api_authorizer_token</c> calls for one authorizer.</summary>
    /// <param name="authorizerAppId">The account's AppId.</param>
    /// <returns>The number of calls.</returns>
    public int GetAuthorizerTokenCalls(string authorizerAppId)
    {
        lock (_gate)
        {
            return _authorizerTokenCallsByApp.TryGetValue(authorizerAppId, out var calls) ? calls : 0;
        }
    }

    private sealed class ComponentState(string appId, string secret, string token, byte[] key)
    {
        public string AppId { get; } = appId;

        public string Secret { get; } = secret;

        public string Token { get; } = token;

        public byte[] Key { get; } = key;

        public Dictionary<string, DateTimeOffset> Tickets { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, (string AuthorizerAppId, DateTimeOffset ExpiresAt)> Codes { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, AuthorizerState> Authorizers { get; } = new(StringComparer.Ordinal);

        public Uri? EventUrl { get; set; }
    }

    private sealed record AuthorizerState(string? RefreshToken);

    private sealed class PushSchedule(WeChatEmulator emulator, ITimer timer) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await timer.DisposeAsync().ConfigureAwait(false);
            lock (emulator._gate)
            {
                emulator._pushTimers.Remove(timer);
            }
        }
    }
}
