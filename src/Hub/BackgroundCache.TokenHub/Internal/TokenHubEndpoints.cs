using System.Buffers;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.WeChat;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The hub's request handlers. Each runs after the authorization middleware accepted the caller; only
/// <see cref="InvalidateAsync"/> reads a body, bounded by <see cref="TokenHubServerOptions.MaxRequestBodySize"/> and after
/// the client's invalidation limit.
/// </summary>
internal static class TokenHubEndpoints
{
    public const string EmulatedHeader = "X-TokenHub-Emulated";

    public static async Task GetTokenAsync(HttpContext context)
    {
        var name = Name(context);
        var services = context.RequestServices;
        var cache = services.GetRequiredService<TokenHubCaches>().Token(name);
        if (cache is null)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new ErrorAnswer("unknown_token", $"The hub has no app named '{name}'.", name)).ConfigureAwait(false);
            return;
        }

        AccessToken token;
        try
        {
            token = cache.TryGetValue(out var current) ? current : await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (CacheValueUnavailableException ex)
        {
            await WriteUnavailableAsync(context, name, cache.Status, ex).ConfigureAwait(false);
            return;
        }

        await WriteCachedTokenAsync(context, name, token).ConfigureAwait(false);
    }

    /// <summary><c>GET /tokens/{name}/authorizers/{appid}</c>: an Open Platform authorizer's token (the client needs the platform).</summary>
    public static async Task GetAuthorizerTokenAsync(HttpContext context)
    {
        var name = Name(context);
        var appId = context.Request.RouteValues["appid"] as string ?? string.Empty;
        var set = context.RequestServices.GetRequiredService<TokenHubCaches>().Authorizers(name);
        if (set is null)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new ErrorAnswer("unknown_token", $"The hub has no Open Platform app named '{name}' (TokenHub:Apps:{name}:Provider=WeChatOpenPlatform).", name)).ConfigureAwait(false);
            return;
        }

        AccessToken token;
        try
        {
            token = await set.GetAsync(appId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (CacheValueUnavailableException ex) when (ex.InnerException is CacheKeyNotFoundException)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new ErrorAnswer("unknown_authorizer", $"'{appId}' has not authorized the platform '{name}'.", name)).ConfigureAwait(false);
            return;
        }
        catch (CacheValueUnavailableException ex)
        {
            await WriteUnavailableAsync(context, name, set.GetOrAdd(appId).Status, ex).ConfigureAwait(false);
            return;
        }

        await WriteTokenAsync(context, name, token).ConfigureAwait(false);
    }

    public static async Task InvalidateAsync(HttpContext context)
    {
        var name = Name(context);
        var services = context.RequestServices;
        var cache = services.GetRequiredService<TokenHubCaches>().Token(name);
        if (cache is null)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new ErrorAnswer("unknown_token", $"The hub has no app named '{name}'.", name)).ConfigureAwait(false);
            return;
        }

        var options = services.GetRequiredService<IOptions<TokenHubServerOptions>>().Value;
        var client = context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? string.Empty;
        var metrics = services.GetRequiredService<TokenHubMetrics>();
        if (context.Request.Query["force"] == "true")
        {
            await ForceRefreshAsync(context, name, client).ConfigureAwait(false);
            return;
        }

        var (tooLarge, request) = await ReadJsonAsync(context, options.MaxRequestBodySize, TokenHubJsonContext.Default.InvalidateRequest).ConfigureAwait(false);
        if (tooLarge)
        {
            metrics.Invalidation(client, name, "invalid");
            Log.RequestBodyRefused(Logger(services), client, name, options.MaxRequestBodySize);
            await WriteTooLargeAsync(context, name, options.MaxRequestBodySize).ConfigureAwait(false);
            return;
        }

        if (string.IsNullOrEmpty(request?.AccessToken))
        {
            metrics.Invalidation(client, name, "invalid");
            await WriteAsync(context, StatusCodes.Status400BadRequest, new ErrorAnswer("access_token_required", "POST {\"access_token\": \"<the token WeChat rejected>\"}", name)).ConfigureAwait(false);
            return;
        }

        // Only a report of the token currently served can make the hub call WeChat, so only such a report costs a permit.
        var served = Serves(cache, request.AccessToken);
        var refused = served ? services.GetRequiredService<InvalidationLimiter>().TryAcquire(client, name, request.AccessToken) : null;
        if (refused is not null && !Serves(cache, request.AccessToken))
        {
            // The refresh another report of this token caused ended between the check above and the limiter: it let go of
            // the permits its reports shared and replaced the token. This report is a stale one now, answered with the new
            // token at no cost, as it would have been a moment later (not with a 429).
            served = false;
            refused = null;
        }

        if (refused is var (retryAfter, appLimit))
        {
            metrics.Invalidation(client, name, "limited");
            var seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            var limit = appLimit ? options.InvalidationPermitLimitPerApp : options.InvalidationPermitLimit;
            var scope = appLimit ? $"for app '{name}' from all clients" : "per client";
            Log.InvalidationLimited(Logger(services), client, name, limit, options.InvalidationWindow, scope);
            await WriteAsync(context, StatusCodes.Status429TooManyRequests, new ErrorAnswer(
                "too_many_invalidations",
                $"At most {limit} invalidations per {options.InvalidationWindow} {scope}; retry after {seconds} s.",
                name)).ConfigureAwait(false);
            return;
        }

        AccessToken token;
        try
        {
            // Coalesced: however many servers report the same token, the hub refreshes once. A report of any other token
            // (an older one, or before the first load) never causes a fetch: it gets the current token, or waits for the first.
            if (served)
            {
                try
                {
                    token = await cache.InvalidateAsync(new AccessToken(request.AccessToken, DateTimeOffset.MinValue), context.RequestAborted).ConfigureAwait(false);
                }
                finally
                {
                    // The permits this report's refresh took stay shared by later reports of the same token while the token
                    // is replaced (a report that read it as served just before the new one was published must not be
                    // charged again); they are let go only when the hub still serves it (a stable token confirmed, or a
                    // failed refresh), so that a new report of it costs permits again.
                    if (Serves(cache, request.AccessToken))
                    {
                        services.GetRequiredService<InvalidationLimiter>().Release(client, name, request.AccessToken);
                    }
                }
            }
            else
            {
                token = cache.TryGetValue(out var latest) ? latest : await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            metrics.Invalidation(client, name, "unavailable");
            await WriteUnavailableAsync(context, name, cache.Status, ex).ConfigureAwait(false);
            return;
        }

        // A stable token is answered with the same token while it has more than a few minutes left: the issuer confirmed it.
        var replaced = token.Value != request.AccessToken;
        metrics.Invalidation(client, name, !served ? "superseded" : replaced ? "refreshed" : "confirmed");
        var emulated = Emulated(context, name);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        await WriteAsync(context, StatusCodes.Status200OK, new InvalidateAnswer(
            token.Value,
            token.ExpiresAt,
            ExpiresIn(token.ExpiresAt, now),
            replaced,
            replaced ? null : ConfirmedDetail,
            emulated)).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST /tokens/{name}/invalidate?force=true</c>: a new WeChat stable token now (a leaked token), for clients with
    /// <c>CanForceRefresh</c>, within the force budget of the app's ledger (<c>force_refresh_day</c>, 20 by default, shared by
    /// every hub on Redis) and WeChat's 30 s spacing.
    /// </summary>
    private static async Task ForceRefreshAsync(HttpContext context, string name, string client)
    {
        var services = context.RequestServices;
        var metrics = services.GetRequiredService<TokenHubMetrics>();
        if (!services.GetRequiredService<ClientKeyTable>().MayForce(client))
        {
            metrics.Invalidation(client, name, "forbidden");
            await WriteAsync(context, StatusCodes.Status403Forbidden, new ErrorAnswer("force_refresh_not_allowed", $"Client '{client}' may not force a refresh: set TokenHub:Clients:{client}:CanForceRefresh=true on the hub.", name)).ConfigureAwait(false);
            return;
        }

        var registry = services.GetRequiredService<TokenHubRegistry>();
        var ledger = services.GetRequiredService<Quota.QuotaLedger>();
        await ledger.RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        var budget = ledger.Use(name).FirstOrDefault(u => u.Window.Counts == Quota.QuotaCalls.ForcedRefresh);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (budget.Window is { Limit: { } limit } window && budget.Used >= limit)
        {
            metrics.Invalidation(client, name, "limited");
            var reset = DateTimeOffset.FromUnixTimeSeconds(window.StartOf(now)) + window.Length;
            await WriteForceLimitedAsync(context, name, reset - now, $"App '{name}' has used its {limit} forced refreshes of this day (resets at midnight China Standard Time).").ConfigureAwait(false);
            return;
        }

        AccessToken token;
        try
        {
            if (registry.Provider(name).ForceRefreshAsync(services, name, context.RequestAborted) is not { } force)
            {
                metrics.Invalidation(client, name, "invalid");
                await WriteAsync(context, StatusCodes.Status400BadRequest, new ErrorAnswer("force_refresh_unsupported", $"Only a WeChat app in StableToken mode can force a new token; '{name}' gets a new token on every refresh or from an issuer without such a call.", name)).ConfigureAwait(false);
                return;
            }

            token = await force.ConfigureAwait(false);
        }
        catch (WeChatApiException ex) when (ex.IsQuotaError || ex.Kind == WeChatErrorKind.BreakerOpen)
        {
            metrics.Invalidation(client, name, "limited");
            await WriteForceLimitedAsync(context, name, ex.RetryAfter ?? TimeSpan.FromMinutes(1), ex.Message).ConfigureAwait(false);
            return;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            metrics.Invalidation(client, name, "unavailable");
            await WriteUnavailableAsync(context, name, services.GetRequiredService<TokenHubCaches>().Token(name)!.Status, ex).ConfigureAwait(false);
            return;
        }

        metrics.Invalidation(client, name, "forced");
        await WriteAsync(context, StatusCodes.Status200OK, new InvalidateAnswer(
            token.Value, token.ExpiresAt, ExpiresIn(token.ExpiresAt, now), true, null, Emulated(context, name))).ConfigureAwait(false);
    }

    private static Task WriteForceLimitedAsync(HttpContext context, string name, TimeSpan retryAfter, string detail) =>
        WriteLimitedAsync(context, name, retryAfter, "force_refresh_budget", detail);

    /// <summary>429 with <c>Retry-After</c> in whole seconds (at least 1), the detail ending with the wait.</summary>
    private static Task WriteLimitedAsync(HttpContext context, string name, TimeSpan retryAfter, string error, string detail)
    {
        var seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return WriteAsync(context, StatusCodes.Status429TooManyRequests, new ErrorAnswer(error, detail + $" Retry after {seconds} s.", name));
    }

    private static Task WriteTooLargeAsync(HttpContext context, string name, long limit) =>
        WriteAsync(context, StatusCodes.Status413PayloadTooLarge, new ErrorAnswer("body_too_large", $"The body must not exceed {limit} bytes.", name));

    /// <summary>Reads a small JSON body: too large, or its value (null when empty or not the JSON expected).</summary>
    private static async Task<(bool TooLarge, T? Value)> ReadJsonAsync<T>(HttpContext context, long limit, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        var body = await ReadBodyAsync(context, limit).ConfigureAwait(false);
        if (body is null)
        {
            return (true, null);
        }

        try
        {
            return (false, body.Length == 0 ? null : JsonSerializer.Deserialize(body, type));
        }
        catch (JsonException)
        {
            return (false, null);
        }
    }

    private const string ConfirmedDetail =
        "The issuer confirmed this token: WeChat answered the same token, which is still valid (a stable token stays the same "
        + "until its last minutes), so it was not replaced. If WeChat keeps rejecting it, check the call (AppId, API, IP whitelist); "
        + "to replace a leaked stable token, force a refresh (docs/token-hub.md, \"A leaked token\").";

    public static async Task GetTicketAsync(HttpContext context)
    {
        var name = Name(context);
        var services = context.RequestServices;
        var cache = services.GetRequiredService<TokenHubCaches>().Ticket(name);
        if (cache is null)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new ErrorAnswer("unknown_ticket", $"The hub keeps no JS-SDK ticket for '{name}' (TokenHub:Apps:{name}:JsApiTicket).", name)).ConfigureAwait(false);
            return;
        }

        (string Value, DateTimeOffset ExpiresAt) ticket;
        try
        {
            ticket = await cache.GetAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (CacheValueUnavailableException ex)
        {
            await WriteUnavailableAsync(context, name, cache.Status, ex).ConfigureAwait(false);
            return;
        }

        var emulated = Emulated(context, name);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        await WriteAsync(context, StatusCodes.Status200OK, new TicketAnswer(ticket.Value, ticket.ExpiresAt, ExpiresIn(ticket.ExpiresAt, now), emulated)).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>POST /tickets/{name}/signature {"url": …}</c>: signs a page's JS-SDK configuration with the app's ticket, so that
    /// front-end services never hold the ticket. The URL's <c>#</c> fragment is stripped, as WeChat requires.
    /// </summary>
    public static async Task SignAsync(HttpContext context)
    {
        var name = Name(context);
        var services = context.RequestServices;
        var cache = services.GetRequiredService<TokenHubCaches>().Ticket(name);
        if (cache is null)
        {
            await WriteAsync(context, StatusCodes.Status404NotFound, new ErrorAnswer("unknown_ticket", $"The hub keeps no JS-SDK ticket for '{name}' (TokenHub:Apps:{name}:JsApiTicket).", name)).ConfigureAwait(false);
            return;
        }

        var client = context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? string.Empty;
        if (services.GetRequiredService<SignatureLimiter>().TryAcquire(client) is { } retryAfter)
        {
            var options = services.GetRequiredService<IOptions<TokenHubServerOptions>>().Value;
            await WriteLimitedAsync(context, name, retryAfter, "too_many_signatures", $"At most {options.SignaturePermitLimit} signatures per {options.SignatureWindow} per client.").ConfigureAwait(false);
            return;
        }

        var limit = services.GetRequiredService<IOptions<TokenHubServerOptions>>().Value.MaxRequestBodySize;
        var (tooLarge, request) = await ReadJsonAsync(context, limit, TokenHubJsonContext.Default.SignatureRequest).ConfigureAwait(false);
        if (tooLarge)
        {
            await WriteTooLargeAsync(context, name, limit).ConfigureAwait(false);
            return;
        }

        if (request?.Url is not { } url || !Uri.TryCreate(url, UriKind.Absolute, out var page) || (page.Scheme != Uri.UriSchemeHttp && page.Scheme != Uri.UriSchemeHttps))
        {
            await WriteAsync(context, StatusCodes.Status400BadRequest, new ErrorAnswer("url_required", "POST {\"url\": \"<the page's absolute http(s) URL>\"}", name)).ConfigureAwait(false);
            return;
        }

        // The URL as the page has it (WeChat signs it verbatim, query and all), up to its fragment.
        var hash = url.IndexOf('#', StringComparison.Ordinal);
        var signed = hash < 0 ? url : url[..hash];
        var timestamp = services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeSeconds();
        var nonce = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 16);
        string signature;
        try
        {
            signature = await cache.SignAsync(nonce, timestamp, signed, context.RequestAborted).ConfigureAwait(false);
        }
        catch (CacheValueUnavailableException ex)
        {
            await WriteUnavailableAsync(context, name, cache.Status, ex).ConfigureAwait(false);
            return;
        }

        var appId = services.GetRequiredService<TokenHubRegistry>().Provider(name).Identity(services, name);
        await WriteAsync(context, StatusCodes.Status200OK, new SignatureAnswer(appId, timestamp, nonce, signature, signed, Emulated(context, name))).ConfigureAwait(false);
    }

    public static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        var registry = context.RequestServices.GetRequiredService<TokenHubRegistry>();
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var emulated = registry.AppNames.Where(registry.IsEmulated).ToList();
        var body = new Dictionary<string, object>
        {
            ["status"] = report.Status.ToString(),
            ["caches"] = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data }),
        };
        if (emulated.Count > 0)
        {
            body["emulated_apps"] = emulated;
        }

        return context.Response.WriteAsync(JsonSerializer.Serialize(body, HealthJson));
    }

    public static async Task GetStatusAsync(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        await ReadQuotasAsync(context).ConfigureAwait(false);
        await context.Response.WriteAsJsonAsync(StatusPage.Report(context.RequestServices), TokenHubJsonContext.Default.StatusReport).ConfigureAwait(false);
    }

    public static async Task GetStatusPageAsync(HttpContext context)
    {
        await ReadQuotasAsync(context).ConfigureAwait(false);
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        var path = (context.Request.PathBase + context.Request.Path).Value?.TrimEnd('/') ?? string.Empty;
        await context.Response.WriteAsync(StatusPage.Html(path + "/status.json", StatusPage.Report(context.RequestServices))).ConfigureAwait(false);
    }

    /// <summary>The shared ledger's counts (Redis) and the issuers' own counts, read again before a page or report is written.</summary>
    private static async Task ReadQuotasAsync(HttpContext context)
    {
        await context.RequestServices.GetRequiredService<Quota.QuotaLedger>().RefreshAsync(context.RequestAborted).ConfigureAwait(false);
        await context.RequestServices.GetRequiredService<Quota.IssuerQuota>().RefreshAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static readonly JsonSerializerOptions HealthJson = new() { WriteIndented = true };

    private static string Name(HttpContext context) => context.Request.RouteValues["name"] as string ?? string.Empty;

    private static ILogger Logger(IServiceProvider services) => services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.TokenHub");

    /// <summary>Whether <paramref name="cache"/> serves <paramref name="token"/> now (a report of it can cause a refresh).</summary>
    private static bool Serves(IRefreshingCache<AccessToken> cache, string token) => cache.TryGetValue(out var current) && current.Value == token;

    private static bool? Emulated(HttpContext context, string name)
    {
        if (!context.RequestServices.GetRequiredService<TokenHubRegistry>().IsEmulated(name))
        {
            return null;
        }

        context.Response.Headers[EmulatedHeader] = "true";
        return true;
    }

    private static long ExpiresIn(DateTimeOffset expiresAt, DateTimeOffset now) => (long)Math.Max(0, (expiresAt - now).TotalSeconds);

    private static Task WriteTokenAsync(HttpContext context, string name, AccessToken token)
    {
        var emulated = Emulated(context, name);
        var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return WriteAsync(context, StatusCodes.Status200OK, new TokenAnswer(token.Value, token.ExpiresAt, ExpiresIn(token.ExpiresAt, now), emulated));
    }

    /// <summary>Writes an app's token answer from <see cref="TokenAnswerCache"/>: the same bytes as <c>WriteTokenAsync</c>, serialized once a second.</summary>
    private static Task WriteCachedTokenAsync(HttpContext context, string name, AccessToken token)
    {
        var services = context.RequestServices;
        var emulated = Emulated(context, name);
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var bytes = services.GetRequiredService<TokenAnswerCache>().Get(name, token, ExpiresIn(token.ExpiresAt, now), emulated);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers.CacheControl = "no-store";
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = bytes.Length;
        return response.Body.WriteAsync(bytes).AsTask(); // no RequestAborted: Kestrel would create its token source for it
    }

    private static Task WriteUnavailableAsync(HttpContext context, string name, RefreshingCacheStatus status, Exception error) =>
        WriteAsync(context, StatusCodes.Status503ServiceUnavailable, new UnavailableAnswer(
            "token_unavailable", name, status.State.ToString(), error.Message, status.ConsecutiveFailures, Emulated(context, name)));

    private static Task WriteAsync<T>(HttpContext context, int statusCode, T value)
    {
        context.Response.StatusCode = statusCode;
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsJsonAsync(value, (System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>)TokenHubJsonContext.Default.GetTypeInfo(typeof(T))!);
    }

    /// <summary>Reads the body into memory only up to <paramref name="limit"/> bytes; null when it is larger.</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext context, long limit)
    {
        if (context.Request.ContentLength > limit)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1, 1 << 20));
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > limit)
                    {
                        return null;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit + 1, (long)buffer.Length * 2));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read;
                try
                {
                    read = await context.Request.Body.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    return null;
                }

                if (read == 0)
                {
                    return length > limit ? null : buffer.AsSpan(0, length).ToArray();
                }

                length += read;
                if (length > limit)
                {
                    return null;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
