using System.Globalization;
using System.Net;
using System.Text;
using BackgroundCache.WeChat;
using BackgroundCache.WeChat.Testing;

namespace BackgroundCache.Samples.TokenHub;

/// <summary>A small HTML page for people: each cache's state, never a token (fingerprints only).</summary>
internal static class StatusPage
{
    public static string Render(IServiceProvider services, HubOptions hub)
    {
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var emulator = services.GetService<WeChatEmulator>();
        var html = new StringBuilder();
        html.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Token hub</title>")
            .Append("<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}")
            .Append(".Fresh{color:#060}.Stale{color:#a60}.Unavailable,.Loading,.Stopped{color:#a00}</style></head><body>")
            .Append("<h1>BackgroundCache token hub</h1>");
        if (emulator is not null)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p><strong>Demo mode:</strong> apps without an AppSecret are served by the in-process WeChat emulator at {Encode(emulator.BaseAddress.ToString())}.</p>");
        }

        html.Append("<table><tr><th>cache</th><th>state</th><th>version</th><th>fingerprint</th><th>age</th><th>expires in</th><th>next refresh in</th><th>failures</th><th>last error</th></tr>");
        foreach (var name in hub.Apps.Keys)
        {
            var tokens = services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);
            Row(html, $"token:{name}", tokens.Status, tokens.TryGetValue(out var token) ? token.Fingerprint : "-", now);
            if (services.GetKeyedService<IRefreshingCache<WeChatJsApiTicket>>(name) is { } tickets)
            {
                Row(html, $"jsapi_ticket:{name}", tickets.Status, tickets.TryGetValue(out var ticket) ? AccessToken.ComputeFingerprint(ticket.Value) : "-", now);
            }
        }

        html.Append("</table><p>API: <code>GET /tokens/{name}</code>, <code>POST /tokens/{name}/invalidate</code>, <code>GET /tickets/{name}</code> (header ")
            .Append(Encode(hub.ApiKeyHeader)).Append("), <code>GET /health</code>.</p></body></html>");
        return html.ToString();
    }

    private static void Row(StringBuilder html, string name, RefreshingCacheStatus status, string fingerprint, DateTimeOffset now)
    {
        html.Append(CultureInfo.InvariantCulture, $"<tr><td>{Encode(name)}</td><td class=\"{status.State}\">{status.State}</td><td>{status.Version}</td><td><code>{fingerprint}</code></td>")
            .Append(CultureInfo.InvariantCulture, $"<td>{Span(status.GetAge(now))}</td><td>{Span(status.ExpiresAt - now)}</td><td>{Span(status.NextRefreshAt - now)}</td>")
            .Append(CultureInfo.InvariantCulture, $"<td>{status.ConsecutiveFailures}</td><td>{Encode(status.LastError?.Message ?? string.Empty)}</td></tr>");
    }

    private static string Span(TimeSpan? span) => span is { } s ? s.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "-";

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
