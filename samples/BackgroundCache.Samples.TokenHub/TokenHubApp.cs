using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace BackgroundCache.Samples.TokenHub;

/// <summary>
/// Builds the token hub. Tests call <see cref="BuildAsync"/> with their own clock and settings.
/// </summary>
public static partial class TokenHubApp
{
    public static async Task<WebApplication> BuildAsync(string[] args, TimeProvider? timeProvider = null, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        var time = timeProvider ?? TimeProvider.System;
        builder.Services.AddSingleton(time);

        var hub = new HubOptions();
        builder.Configuration.GetSection(HubOptions.SectionName).Bind(hub);
        builder.Services.AddOptions<HubOptions>()
            .Bind(builder.Configuration.GetSection(HubOptions.SectionName))
            .Validate(o => o.ApiKeys.Any(k => !string.IsNullOrWhiteSpace(k)),
                "TokenHub:ApiKeys must contain at least one API key (e.g. environment variable TokenHub__ApiKeys__0); only the Development environment ships one ('dev-key').")
            .Validate(o => o.Apps.Count > 0, "TokenHub:Apps must list at least one WeChat app.")
            .ValidateOnStart();

        // Apps without an AppSecret run against an in-process emulator, so the hub works offline out of the box.
        var emulated = hub.Apps.Where(a => string.IsNullOrEmpty(a.Value.AppSecret)).Select(a => a.Key).ToList();
        WeChatEmulator? emulator = null;
        var emulatedSecrets = new Dictionary<string, string>();
        if (emulated.Count > 0)
        {
            var emulatorOptions = new WeChatEmulatorOptions { TimeProvider = time, Port = hub.EmulatorPort };
            foreach (var name in emulated)
            {
                var secret = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
                emulatedSecrets[name] = secret;
                emulatorOptions.Apps[hub.Apps[name].AppId] = secret;
            }

            emulator = await WeChatEmulator.StartAsync(emulatorOptions);
            builder.Services.AddSingleton(emulator);
            builder.Services.AddHostedService(sp => new EmulatorLifetime(sp.GetRequiredService<WeChatEmulator>()));
        }

        var healthChecks = builder.Services.AddHealthChecks();
        foreach (var (name, app) in hub.Apps)
        {
            builder.Services.AddWeChatAccessToken(name, o =>
            {
                o.AppId = app.AppId;
                o.Mode = app.Mode;
                if (emulator is not null && emulatedSecrets.TryGetValue(name, out var secret))
                {
                    o.AppSecret = secret;
                    o.BaseAddress = emulator.BaseAddress;
                }
                else
                {
                    o.AppSecret = app.AppSecret ?? string.Empty;
                    o.BaseAddress = app.BaseAddress ?? WeChatOptions.DefaultBaseAddress;
                }
            }).WithHealthCheck($"token:{name}");
            builder.Services.AddOptions<RefreshingCacheOptions>(name).Bind(builder.Configuration.GetSection($"{HubOptions.SectionName}:Apps:{name}:Cache"));
            if (app.JsApiTicket)
            {
                builder.Services.AddWeChatJsApiTicket(name).WithHealthCheck($"jsapi_ticket:{name}");
            }
        }

        var web = builder.Build();
        LogMode(web, hub, emulated, emulator);
        MapEndpoints(web, hub);
        return web;
    }

    private static void LogMode(WebApplication app, HubOptions hub, List<string> emulated, WeChatEmulator? emulator)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.Samples.TokenHub");
        foreach (var (name, options) in hub.Apps)
        {
            if (emulated.Contains(name))
            {
                HubLog.EmulatorMode(logger, name, emulator!.BaseAddress);
            }
            else
            {
                HubLog.RealMode(logger, name, options.AppId, options.BaseAddress ?? WeChatOptions.DefaultBaseAddress, options.Mode);
            }
        }
    }

    private static void MapEndpoints(WebApplication app, HubOptions hub)
    {
        var names = hub.Apps.Keys.ToHashSet(StringComparer.Ordinal);
        var tokens = app.MapGroup("/tokens").AddEndpointFilter<ApiKeyFilter>();

        tokens.MapGet("/{name}", async (string name, HttpContext context, CancellationToken ct) =>
        {
            var cache = Find<AccessToken>(context, names, name);
            if (cache is null)
            {
                return Results.NotFound(new { error = "unknown_token", name });
            }

            try
            {
                var token = cache.TryGetValue(out var current) ? current : await cache.GetAsync(ct);
                return TokenResult(context, token.Value, token.ExpiresAt);
            }
            catch (CacheValueUnavailableException ex)
            {
                return Unavailable(cache.Status, ex);
            }
        });

        tokens.MapPost("/{name}/invalidate", async (string name, InvalidateRequest? request, HttpContext context, CancellationToken ct) =>
        {
            var cache = Find<AccessToken>(context, names, name);
            if (cache is null)
            {
                return Results.NotFound(new { error = "unknown_token", name });
            }

            if (string.IsNullOrEmpty(request?.AccessToken))
            {
                return Results.BadRequest(new { error = "access_token_required", detail = "POST {\"access_token\": \"<the token WeChat rejected>\"}" });
            }

            try
            {
                // Coalesced: however many servers report the same token, the hub refreshes once.
                var token = await cache.InvalidateAsync(new AccessToken(request.AccessToken, DateTimeOffset.MinValue), ct);
                return TokenResult(context, token.Value, token.ExpiresAt);
            }
            catch (Exception ex) when (ex is CacheValueUnavailableException or WeChatApiException or TimeoutException)
            {
                return Unavailable(cache.Status, ex);
            }
        });

        app.MapGet("/tickets/{name}", async (string name, HttpContext context, CancellationToken ct) =>
        {
            var cache = Find<WeChatJsApiTicket>(context, names, name);
            if (cache is null)
            {
                return Results.NotFound(new { error = "unknown_ticket", name });
            }

            try
            {
                var ticket = cache.TryGetValue(out var current) ? current : await cache.GetAsync(ct);
                context.Response.Headers.CacheControl = "no-store";
                return Results.Json(new { ticket = ticket.Value, expires_at = ticket.ExpiresAt });
            }
            catch (CacheValueUnavailableException ex)
            {
                return Unavailable(cache.Status, ex);
            }
        }).AddEndpointFilter<ApiKeyFilter>();

        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });
        app.MapGet("/", (HttpContext context) => Results.Content(StatusPage.Render(context.RequestServices, hub), "text/html; charset=utf-8"));
    }

    private static IRefreshingCache<T>? Find<T>(HttpContext context, HashSet<string> names, string name) =>
        names.Contains(name) ? context.RequestServices.GetKeyedService<IRefreshingCache<T>>(name) : null;

    private static IResult TokenResult(HttpContext context, string token, DateTimeOffset expiresAt)
    {
        var now = context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        context.Response.Headers.CacheControl = "no-store";
        return Results.Json(new { access_token = token, expires_at = expiresAt, expires_in = (long)Math.Max(0, (expiresAt - now).TotalSeconds) });
    }

    private static IResult Unavailable(RefreshingCacheStatus status, Exception error) => Results.Json(
        new { error = "token_unavailable", state = status.State.ToString(), reason = error.Message, consecutive_failures = status.ConsecutiveFailures },
        statusCode: StatusCodes.Status503ServiceUnavailable);

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            caches = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions));
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public sealed record InvalidateRequest([property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string? AccessToken);

    /// <summary>Requires a configured API key in the configured header; compares in constant time.</summary>
    private sealed class ApiKeyFilter(IOptions<HubOptions> options) : IEndpointFilter
    {
        private readonly byte[][] _keys = options.Value.ApiKeys.Where(k => !string.IsNullOrWhiteSpace(k)).Select(Hash).ToArray();

        public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var presented = context.HttpContext.Request.Headers[options.Value.ApiKeyHeader].ToString();
            var hash = Hash(presented);
            var accepted = false;
            foreach (var key in _keys)
            {
                accepted |= CryptographicOperations.FixedTimeEquals(hash, key);
            }

            if (presented.Length == 0 || !accepted)
            {
                return ValueTask.FromResult<object?>(Results.Json(new { error = "invalid_api_key", header = options.Value.ApiKeyHeader }, statusCode: (int)HttpStatusCode.Unauthorized));
            }

            return next(context);
        }

        // Hashing first gives equal-length inputs, so the comparison time does not reveal the key's length.
        private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
    }

    private sealed class EmulatorLifetime(WeChatEmulator emulator) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken) => await emulator.DisposeAsync();
    }

    private static partial class HubLog
    {
        [LoggerMessage(1, LogLevel.Warning, "App '{App}' has no AppSecret: the hub serves it from the in-process WeChat EMULATOR at {Emulator} (offline demo mode). Configure TokenHub:Apps:{App}:AppSecret to use the real WeChat API.")]
        public static partial void EmulatorMode(ILogger logger, string app, Uri emulator);

        [LoggerMessage(2, LogLevel.Information, "App '{App}' ({AppId}) refreshes its token from the real WeChat API at {BaseAddress} in {Mode} mode.")]
        public static partial void RealMode(ILogger logger, string app, string appId, Uri baseAddress, WeChatTokenMode mode);
    }
}
