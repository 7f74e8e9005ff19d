using System.Net.Http.Headers;
using System.Text.Json;
using BackgroundCache.WeChat.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeChat;

/// <summary>
/// Fetches a WeChat Official Account access token with <c>POST /cgi-bin/stable_token</c> (default) or classic
/// <c>GET /cgi-bin/token</c>, maps every error to a <see cref="WeChatApiException"/>, and guards the quota: a burst of
/// fetches opens a breaker, forced refreshes are spaced and budgeted.
/// </summary>
/// <remarks>
/// Registered per app by <c>AddWeChatAccessToken(name, …)</c>; resolve it as the keyed service of that name to call
/// <see cref="ForceRefreshAsync(CancellationToken)"/>. Readers use the keyed <see cref="IRefreshingCache{T}"/> of
/// <see cref="AccessToken"/> instead.
/// </remarks>
public sealed class WeChatAccessTokenSource : IRejectionAwareTokenSource, ITokenRenewalRule
{
    /// <summary>WeChat's stable token: the same token until its last 5 minutes, a new one from then on.</summary>
    internal static readonly TokenRenewal StableTokenRenewal = TokenRenewal.SameUntilWindow(TimeSpan.FromMinutes(5));

    /// <summary>WeChat allows 20 forced refreshes a day, at least 30 s apart.</summary>
    internal const int ForceRefreshDailyLimit = 20;

    internal static readonly TimeSpan ForceRefreshMinInterval = TimeSpan.FromSeconds(30);

    private readonly IHttpClientFactory _httpClientFactory;
    private readonly IOptionsMonitor<WeChatOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IServiceProvider _services;
    private readonly Lock _gate = new();
    private readonly Queue<DateTimeOffset> _recentFetches = new();
    private DateTimeOffset? _breakerOpenUntil;
    private int _loggedErrorCode;
    private string? _lastTokenValue;
    private bool _forceNext;
    private DateTimeOffset? _lastForcedAt;
    private DateOnly _forceDay;
    private int _forcedToday;

    internal WeChatAccessTokenSource(string name, IServiceProvider services)
    {
        Name = name;
        _services = services;
        _httpClientFactory = services.GetRequiredService<IHttpClientFactory>();
        _options = services.GetRequiredService<IOptionsMonitor<WeChatOptions>>();
        _time = services.GetRequiredService<TimeProvider>();
        _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat");
    }

    /// <summary>Gets the name of the app's token cache.</summary>
    public string Name { get; }

    /// <summary>
    /// Gets WeChat's renewal rule for the configured <see cref="WeChatOptions.Mode"/>: a stable token is the same until its
    /// last 5 minutes (<see cref="TokenRenewal.SameUntilWindow(TimeSpan)"/>), a classic token is replaced on each fetch.
    /// </summary>
    public TokenRenewal Renewal => _options.Get(Name).Mode == WeChatTokenMode.StableToken ? StableTokenRenewal : TokenRenewal.ReplacesOnFetch;

    /// <inheritdoc />
    public async ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken)
    {
        var options = _options.Get(Name);
        bool force;
        lock (_gate)
        {
            ThrowIfBreakerOpenLocked(options);
            force = _forceNext;
            _forceNext = false;
        }

        var started = _time.GetUtcNow();
        using var request = CreateRequest(options, force);
        var client = _httpClientFactory.CreateClient(options.HttpClientName);
        using var document = await WeChatJson.SendAsync(client, request, options.AppId, cancellationToken).ConfigureAwait(false);
        var (code, message) = WeChatJson.GetError(document.RootElement, options.AppSecret);
        if (code != 0)
        {
            throw OnError(options, code, message);
        }

        var (value, expiresIn, problem) = WeChatJson.ReadSecret(document.RootElement, "access_token");
        if (value is null)
        {
            throw WeChatErrors.InvalidResponse(options.AppId, $"a JSON answer with {problem}", null);
        }

        var token = new AccessToken(value, started.AddSeconds(expiresIn));
        lock (_gate)
        {
            _loggedErrorCode = 0;
            if (!string.Equals(_lastTokenValue, token.Value, StringComparison.Ordinal))
            {
                // Only a new token counts toward the breaker: a stable_token answer with the token already held (WeChat
                // refuting an invalidation report) invalidates nothing, so reports alone never open the breaker.
                _recentFetches.Enqueue(_time.GetUtcNow());
                _lastTokenValue = token.Value;
            }
        }

        Log.TokenFetched(_logger, Name, options.Mode, token.Fingerprint, expiresIn);
        return token;
    }

    /// <inheritdoc />
    public async ValueTask<AccessToken> GetReplacementTokenAsync(AccessToken rejectedToken, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rejectedToken);
        var token = await GetTokenAsync(cancellationToken).ConfigureAwait(false);
        if (token.Equals(rejectedToken))
        {
            // Stable mode returns the current token while it has more than 5 minutes left; forcing is an explicit decision.
            Log.SameTokenAfterRejection(_logger, Name, token.Fingerprint);
        }
        else if (_services.GetKeyedService<IRefreshingCache<WeChatJsApiTicket>>(Name) is { } tickets && tickets.TryGetValue(out var ticket))
        {
            // The JS-SDK ticket was fetched with the rejected token: fetch it again with the new one.
            tickets.Invalidate(ticket);
        }

        return token;
    }

    /// <summary>
    /// Forces WeChat to issue a new stable token (<c>force_refresh: true</c>), invalidating the current one at once: for a
    /// leaked token, not for routine refresh. Honours WeChat's limits locally: at least 30 s apart, at most 20 a day
    /// (days end at midnight Asia/Shanghai). The new token is published to the cache before this returns.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The new token.</returns>
    /// <exception cref="InvalidOperationException">The app uses <see cref="WeChatTokenMode.Token"/>, where every refresh already issues a new token.</exception>
    /// <exception cref="WeChatApiException">The spacing or the daily budget does not allow a forced refresh now.</exception>
    public async Task<AccessToken> ForceRefreshAsync(CancellationToken cancellationToken = default)
    {
        var options = _options.Get(Name);
        if (options.Mode != WeChatTokenMode.StableToken)
        {
            throw new InvalidOperationException($"ForceRefreshAsync needs WeChatTokenMode.StableToken (app '{Name}' uses {options.Mode}); in classic mode every refresh issues a new token: call IRefreshingCache<AccessToken>.RefreshAsync().");
        }

        int usedToday;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            var day = DateOnly.FromDateTime(now.ToOffset(WeChatErrors.QuotaResetOffset).DateTime);
            if (day != _forceDay)
            {
                _forceDay = day;
                _forcedToday = 0;
            }

            if (_lastForcedAt is { } last && now - last < ForceRefreshMinInterval)
            {
                var wait = ForceRefreshMinInterval - (now - last);
                throw new WeChatApiException(0, "forced refreshes must be 30 s apart", WeChatErrorKind.RateLimited,
                    $"A forced refresh of app '{Name}' ran {(now - last).TotalSeconds:F0} s ago; WeChat allows one every 30 s. Retry in {wait.TotalSeconds:F0} s.", wait);
            }

            if (_forcedToday >= ForceRefreshDailyLimit)
            {
                throw new WeChatApiException(0, "forced refresh budget used", WeChatErrorKind.QuotaExhausted,
                    $"App '{Name}' has used its {ForceRefreshDailyLimit} forced refreshes for today; the budget resets at midnight Asia/Shanghai.",
                    WeChatErrors.UntilNextQuotaReset(now));
            }

            _forcedToday++;
            usedToday = _forcedToday;
            _lastForcedAt = now;
            _forceNext = true;
        }

        Log.ForceRefresh(_logger, Name, usedToday);
        var cache = _services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(Name);
        var token = await cache.RefreshAsync(cancellationToken).ConfigureAwait(false);
        if (Volatile.Read(ref _forceNext))
        {
            // The call joined a refresh that was already running; run the forced one now.
            token = await cache.RefreshAsync(cancellationToken).ConfigureAwait(false);
        }

        return token;
    }

    private void ThrowIfBreakerOpenLocked(WeChatOptions options)
    {
        var now = _time.GetUtcNow();
        if (_breakerOpenUntil is { } until && now < until)
        {
            throw BreakerException(until - now);
        }

        while (_recentFetches.TryPeek(out var at) && now - at >= options.FetchBreakerWindow)
        {
            _recentFetches.Dequeue();
        }

        if (_recentFetches.Count >= options.FetchBreakerThreshold)
        {
            _breakerOpenUntil = now + options.FetchBreakerDuration;
            Log.BreakerOpened(_logger, Name, _recentFetches.Count, options.FetchBreakerWindow, options.FetchBreakerDuration);
            _recentFetches.Clear();
            throw BreakerException(options.FetchBreakerDuration);
        }
    }

    private WeChatApiException BreakerException(TimeSpan remaining) => new(
        0,
        "breaker open",
        WeChatErrorKind.BreakerOpen,
        $"Token fetches for app '{Name}' are paused for {remaining} after a burst of fetches: something keeps invalidating the token.",
        remaining);

    private WeChatApiException OnError(WeChatOptions options, int code, string message)
    {
        var error = WeChatErrors.FromErrorCode(code, message, options.AppId, _time);
        bool first;
        lock (_gate)
        {
            first = _loggedErrorCode != code;
            _loggedErrorCode = code;
        }

        if (first && error.Kind == WeChatErrorKind.Configuration)
        {
            Log.ConfigurationError(_logger, Name, code, WeChatErrors.Hint(code, message, options.AppId));
        }
        else if (first && error.Kind == WeChatErrorKind.QuotaExhausted)
        {
            Log.QuotaExhausted(_logger, Name, code, _time.GetUtcNow() + (error.RetryAfter ?? TimeSpan.Zero));
        }

        return error;
    }

    private static HttpRequestMessage CreateRequest(WeChatOptions options, bool force)
    {
        if (options.Mode == WeChatTokenMode.Token)
        {
            var uri = new Uri(options.BaseAddress, $"cgi-bin/token?grant_type=client_credential&appid={Uri.EscapeDataString(options.AppId)}&secret={Uri.EscapeDataString(options.AppSecret)}");
            return new HttpRequestMessage(HttpMethod.Get, uri);
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("grant_type", "client_credential");
            writer.WriteString("appid", options.AppId);
            writer.WriteString("secret", options.AppSecret);
            writer.WriteBoolean("force_refresh", force);
            writer.WriteEndObject();
        }

        var content = new ByteArrayContent(buffer.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return new HttpRequestMessage(HttpMethod.Post, new Uri(options.BaseAddress, "cgi-bin/stable_token")) { Content = content };
    }
}
