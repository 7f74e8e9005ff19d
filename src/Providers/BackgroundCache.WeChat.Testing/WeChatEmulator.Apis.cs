using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using BackgroundCache.Testing;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>The APIs a token is used on: the protected probes, the JS-SDK ticket (<c>cgi-bin/ticket/getticket</c>) and the quota query (<c>cgi-bin/openapi/quota/get</c>).</summary>
public sealed partial class WeChatEmulator
{
    private Task ProtectedApiAsync(HttpContext context)
    {
        Interlocked.Increment(ref _apiCalls);
        int code;
        lock (_gate)
        {
            code = ValidateLocked(context.Request.Query["access_token"], _options.TimeProvider.GetUtcNow());
        }

        if (code != 0)
        {
            Interlocked.Increment(ref _rejectedApiCalls);
            return WriteErrorAsync(context, code, ErrorText(code));
        }

        return WriteJsonAsync(context, new() { ["ip_list"] = IpList });
    }

    private Task TicketAsync(HttpContext context)
    {
        Interlocked.Increment(ref _ticketCalls);
        int code;
        string? ticket = null;
        lock (_gate)
        {
            var now = _options.TimeProvider.GetUtcNow();
            code = ValidateLocked(context.Request.Query["access_token"], now);
            if (code == 0 && context.Request.Query["type"] != "jsapi" && context.Request.Query["type"] != "wx_card")
            {
                code = 40097;
            }

            if (code == 0)
            {
                var app = _apps[_tokens[context.Request.Query["access_token"]!].AppId];
                ticket = NewSecretValue("kgt8ON7yVITDhtdwci0qe");
                app.Tickets.Add(ticket);
                app.TicketsToday++;
            }
        }

        if (code != 0)
        {
            return WriteErrorAsync(context, code, ErrorText(code));
        }

        return WriteJsonAsync(context, new()
        {
            ["errcode"] = 0,
            ["errmsg"] = "ok",
            ["ticket"] = ticket!,
            ["expires_in"] = (long)_options.TicketLifetime.TotalSeconds,
        });
    }

    /// <summary>
    /// <c>POST /cgi-bin/openapi/quota/get?access_token=…</c> with <c>{"cgi_path": "/cgi-bin/token"}</c> (or
    /// <c>/cgi-bin/stable_token</c>): the app's own count of today's calls, as WeChat answers it
    /// (<c>{"quota": {"daily_limit", "used", "remain"}}</c>); another path is 76021.
    /// </summary>
    private async Task QuotaAsync(HttpContext context)
    {
        Interlocked.Increment(ref _quotaCalls);
        string? path = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            path = body.RootElement.TryGetProperty("cgi_path", out var value) ? value.GetString() : null;
        }
        catch (JsonException)
        {
            path = null;
        }

        int code;
        long limit = 0, used = 0;
        lock (_gate)
        {
            var now = _options.TimeProvider.GetUtcNow();
            code = ValidateLocked(context.Request.Query["access_token"], now);
            if (code == 0)
            {
                var app = _apps[_tokens[context.Request.Query["access_token"]!].AppId];
                RollDay(app, now);
                (code, limit, used) = path switch
                {
                    "/cgi-bin/token" => (0, _options.ClassicDailyQuota, app.ClassicToday),
                    "/cgi-bin/stable_token" => (0, _options.StableDailyQuota, app.StableToday),
                    _ => (76021, 0L, 0L),
                };
            }
        }

        if (code != 0)
        {
            await (code == 76021 ? WriteErrorAsync(context, code, "cgi_path not found, please check") : WriteErrorAsync(context, code, ErrorText(code))).ConfigureAwait(false);
            return;
        }

        await WriteJsonAsync(context, new()
        {
            ["errcode"] = 0,
            ["errmsg"] = "ok",
            ["quota"] = new Dictionary<string, long> { ["daily_limit"] = limit, ["used"] = used, ["remain"] = limit - used },
        }).ConfigureAwait(false);
    }
}
