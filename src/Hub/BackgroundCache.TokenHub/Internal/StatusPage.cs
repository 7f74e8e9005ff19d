using System.Globalization;
using System.Net;
using System.Text;
using BackgroundCache.WeChat;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The status page for people: each app's state, age, next refresh and expiry, the recent refreshes (token or ticket), and
/// the clients. The server renders the first data into the page (so <c>curl</c> and clients without script see it); its
/// script then reads <c>status.json</c> every few seconds and draws the same rows again. Token fingerprints only, never a token.
/// </summary>
internal static class StatusPage
{
    public static StatusReport Report(IServiceProvider services)
    {
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var registry = services.GetRequiredService<TokenHubRegistry>();
        var caches = services.GetRequiredService<TokenHubCaches>();
        var options = services.GetRequiredService<IOptions<TokenHubServerOptions>>().Value;
        var ledger = services.GetRequiredService<Quota.QuotaLedger>();
        var issuer = services.GetRequiredService<Quota.IssuerQuota>();
        var apps = registry.AppNames.Select(name =>
        {
            var token = caches.Token(name)!;
            var ticket = caches.Ticket(name);
            return new AppReport(
                name,
                registry.IsEmulated(name),
                registry.EmulatorAddress(name)?.ToString(),
                Cache(token.Status, token.TryGetValue(out var t) ? t.Fingerprint : null, now),
                ticket is null ? null : Cache(ticket.Status, ticket.Fingerprint, now),
                registry.Provider(name).Name,
                [.. ledger.Use(name).Select(u => new QuotaReport(
                    u.Window.Name,
                    u.Used,
                    u.Limit,
                    u.Limit is null ? null : Math.Round(u.Share * 100, 1),
                    u.Window is { Name: "day", Counts: Quota.QuotaCalls.Token } ? issuer.Get(name)?.Used : null))],
                ledger.Burn(name));
        }).ToList();
        var clients = services.GetRequiredService<ClientKeyTable>().Clients
            .Select(c => new ClientReport(c.Id, c.AllApps ? [TokenHubServerOptions.AllApps] : [.. c.Apps.Order(StringComparer.Ordinal)], c.KeyCount))
            .ToList();
        return new StatusReport(
            now,
            registry.RedisCoordinated,
            options.RequireApiKeyForStatus,
            options.ApiKeyHeader,
            apps,
            services.GetRequiredService<RefreshTimeline>().Snapshot(),
            clients,
            apps.Count == 0 ? TokenHubRegistry.NoAppMessage : null);
    }

    private static CacheReport Cache(RefreshingCacheStatus status, string? fingerprint, DateTimeOffset now) => new(
        status.State.ToString(),
        status.Version,
        fingerprint,
        status.LastRefreshedAt,
        status.GetAge(now)?.TotalSeconds is { } age ? Math.Round(age) : null,
        status.NextRefreshAt,
        status.NextRefreshAt is { } next ? Math.Round((next - now).TotalSeconds) : null,
        status.ExpiresAt,
        status.ExpiresAt is { } expires ? Math.Round((expires - now).TotalSeconds) : null,
        status.ConsecutiveFailures,
        status.LastError?.Message);

    /// <summary>The page with <paramref name="report"/> rendered into it, exactly as its script renders <c>status.json</c>.</summary>
    public static string Html(string statusUrl, StatusReport report)
    {
        var emulated = report.Apps.Where(a => a.Emulated).Select(a => a.Name).ToList();
        var apps = new StringBuilder();
        if (report.Notice is not null)
        {
            Row(apps, (report.Notice, "notice"));
        }

        foreach (var app in report.Apps)
        {
            CacheRow(apps, app.Name, app.Provider, "token", app.Token);
            if (app.Ticket is not null)
            {
                CacheRow(apps, app.Name, app.Provider, "jsapi_ticket", app.Ticket);
            }
        }

        var quotas = new StringBuilder();
        var burns = new StringBuilder();
        foreach (var app in report.Apps)
        {
            foreach (var quota in app.Quotas)
            {
                QuotaRow(quotas, app.Name, quota);
            }

            BurnChart(burns, app);
        }

        var timeline = new StringBuilder();
        if (report.Timeline.Count == 0)
        {
            Row(timeline, ("no refresh yet", null), (string.Empty, null), (string.Empty, null), (string.Empty, null), (string.Empty, null));
        }

        foreach (var entry in report.Timeline)
        {
            Row(timeline, (Time(entry.At), null), (entry.App, null), (entry.Cache, null), (entry.Outcome, entry.Outcome), (entry.DurationMs.ToString(CultureInfo.InvariantCulture) + " ms", null));
        }

        var clients = new StringBuilder();
        foreach (var client in report.Clients)
        {
            Row(clients, (client.Id, null), (string.Join(", ", client.Apps), null), (client.Keys.ToString(CultureInfo.InvariantCulture), null));
        }

        return new StringBuilder(Template)
            .Replace("{{STATUS_URL}}", WebUtility.HtmlEncode(statusUrl))
            .Replace("{{UPDATED}}", Time(report.Now) + " UTC")
            .Replace("{{MODE}}", report.RedisCoordinated ? RedisMode : string.Empty)
            .Replace("{{BANNER_STYLE}}", emulated.Count > 0 ? "block" : "none")
            .Replace("{{BANNER}}", emulated.Count > 0 ? WebUtility.HtmlEncode(Banner(emulated)) : string.Empty)
            .Replace("{{HEADER}}", WebUtility.HtmlEncode(report.ApiKeyHeader))
            .Replace("{{APPS}}", apps.ToString())
            .Replace("{{QUOTAS}}", quotas.ToString())
            .Replace("{{BURN}}", burns.ToString())
            .Replace("{{TIMELINE}}", timeline.ToString())
            .Replace("{{CLIENTS}}", clients.ToString())
            .ToString();
    }

    private const string RedisMode = "Tokens coordinated through Redis (one refresher for all hubs).";

    private static string Banner(IEnumerable<string> emulated) =>
        "EMULATOR: " + string.Join(", ", emulated) + " served by an emulator; these tokens are not real tokens of their issuers.";

    /// <summary>The script's <c>quotaRow</c>: app, window, used, limit, and the share as text over a bar.</summary>
    private static void QuotaRow(StringBuilder body, string app, QuotaReport q)
    {
        var level = q.Percent is >= 100 ? "full" : q.Percent is >= 80 ? "high" : "ok";
        body.Append("<tr><td>").Append(WebUtility.HtmlEncode(app)).Append("</td><td>").Append(WebUtility.HtmlEncode(q.Window))
            .Append("</td><td>").Append(q.Used.ToString(CultureInfo.InvariantCulture))
            .Append("</td><td>").Append(q.Limit?.ToString(CultureInfo.InvariantCulture) ?? "-")
            .Append("</td><td class=\"").Append(level).Append("\"><span class=\"bar\"><span style=\"width:")
            .Append(Math.Min(100, q.Percent ?? 0).ToString("0.#", CultureInfo.InvariantCulture)).Append("%\"></span></span> ")
            .Append(q.Percent is { } p ? p.ToString("0.#", CultureInfo.InvariantCulture) + " %" : "no limit")
            .Append("</td><td>").Append(q.IssuerUsed?.ToString(CultureInfo.InvariantCulture) ?? "-").Append("</td></tr>");
    }

    /// <summary>The script's <c>burnChart</c>: the app's token calls per hour over the last 24 hours, as 24 bars.</summary>
    private static void BurnChart(StringBuilder body, AppReport app)
    {
        var peak = Math.Max(1, app.Burn.DefaultIfEmpty(0).Max());
        body.Append("<div class=\"burn\" data-app=\"").Append(WebUtility.HtmlEncode(app.Name)).Append("\"><span class=\"label\">")
            .Append(WebUtility.HtmlEncode(app.Name)).Append(": ").Append(app.Burn.Sum().ToString(CultureInfo.InvariantCulture)).Append(" calls in 24 h</span>");
        foreach (var calls in app.Burn)
        {
            body.Append("<span class=\"h\" title=\"").Append(calls.ToString(CultureInfo.InvariantCulture)).Append("\" style=\"height:")
                .Append((2 + (calls * 28 / peak)).ToString(CultureInfo.InvariantCulture)).Append("px\"></span>");
        }

        body.Append("</div>");
    }

    private static void CacheRow(StringBuilder body, string app, string provider, string kind, CacheReport c) => Row(
        body,
        (app, null),
        (kind, null),
        (c.State, c.State),
        (c.Version.ToString(CultureInfo.InvariantCulture), null),
        (c.Fingerprint ?? "-", null),
        (Span(c.AgeSeconds), null),
        (Span(c.NextRefreshInSeconds), null),
        (Span(c.ExpiresInSeconds), null),
        (c.ConsecutiveFailures.ToString(CultureInfo.InvariantCulture), null),
        (c.LastError ?? string.Empty, null),
        (provider, null));

    private static void Row(StringBuilder body, params (string Text, string? Class)[] cells)
    {
        body.Append("<tr>");
        foreach (var (text, cls) in cells)
        {
            body.Append(cls is null ? "<td>" : $"<td class=\"{WebUtility.HtmlEncode(cls)}\">").Append(WebUtility.HtmlEncode(text)).Append("</td>");
        }

        body.Append("</tr>");
    }

    /// <summary>The script's <c>span</c>: "1h 2m 3s", "4m 5s", "6s", "-" for none.</summary>
    private static string Span(double? seconds)
    {
        if (seconds is not { } value)
        {
            return "-";
        }

        var sign = value < 0 ? "-" : string.Empty;
        var s = (long)Math.Round(Math.Abs(value), MidpointRounding.AwayFromZero);
        var h = s / 3600;
        s -= h * 3600;
        var m = s / 60;
        s -= m * 60;
        return sign + (h != 0 ? $"{h}h " : string.Empty) + (h != 0 || m != 0 ? $"{m}m " : string.Empty) + $"{s}s";
    }

    /// <summary>The script's <c>time</c>: "2026-11-25 08:00:00" (UTC).</summary>
    private static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private const string Template = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Token hub</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f4f4f4}.Fresh,.success{color:#060}.Stale,.shared{color:#a60}.Unavailable,.Loading,.Stopped,.failure,.timeout{color:#a00}
#banner{background:#fff3cd;border:1px solid #e0c060;padding:.5rem .8rem}#error{color:#a00}.notice{color:#a00}
small{color:#666}
.bar{display:inline-block;width:8rem;height:.7rem;border:1px solid #999;vertical-align:middle}.bar span{display:block;height:100%;background:#4a4}
.high .bar span{background:#d90}.full .bar span{background:#c00}.high,.full{font-weight:bold}.full{color:#a00}
.burn{display:flex;align-items:flex-end;gap:1px;margin:.3rem 0;height:2.6rem}.burn .label{width:16rem;align-self:center;font-size:.85rem}.burn .h{width:.45rem;background:#68a}
</style>
</head>
<body data-status="{{STATUS_URL}}">
<h1>BackgroundCache token hub</h1>
<p id="banner" style="display:{{BANNER_STYLE}}">{{BANNER}}</p>
<p><small>Updated <span id="updated">{{UPDATED}}</span>; refreshes every 5 s. <span id="mode">{{MODE}}</span></small> <span id="error"></span></p>
<h2>Apps</h2>
<table id="apps"><thead><tr><th>app</th><th>cache</th><th>state</th><th>version</th><th>fingerprint</th><th>age</th><th>next refresh in</th><th>expires in</th><th>failures</th><th>last error</th><th>provider</th></tr></thead><tbody>{{APPS}}</tbody></table>
<h2>Upstream quotas</h2>
<table id="quotas"><thead><tr><th>app</th><th>window</th><th>calls</th><th>quota</th><th>used</th><th>issuer's count</th></tr></thead><tbody>{{QUOTAS}}</tbody></table>
<div id="burn" title="token calls per hour, last 24 hours">{{BURN}}</div>
<h2>Recent refreshes</h2>
<table id="timeline"><thead><tr><th>time (UTC)</th><th>app</th><th>cache</th><th>outcome</th><th>duration</th></tr></thead><tbody>{{TIMELINE}}</tbody></table>
<h2>Clients</h2>
<table id="clients"><thead><tr><th>client</th><th>apps</th><th>keys</th></tr></thead><tbody>{{CLIENTS}}</tbody></table>
<p><small>API: <code>GET tokens/{name}</code>, <code>POST tokens/{name}/invalidate</code>, <code>GET tickets/{name}</code>, <code>POST tickets/{name}/signature</code>, <code>GET tokens/{name}/authorizers/{appid}</code> with a client's key in the <code id="header">{{HEADER}}</code> header; <code>GET health</code>.</small></p>
<script>
"use strict";
const url = document.body.dataset.status;
function span(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const sign = seconds < 0 ? "-" : "";
  let s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return sign + (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}
function time(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "").replace("Z", "") : "-"; }
function row(body, cells) {
  const tr = document.createElement("tr");
  for (const [text, cls] of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  body.appendChild(tr);
}
function cacheRow(body, app, kind, c) {
  row(body, [[app.name], [kind], [c.state, c.state], [String(c.version)], [c.fingerprint || "-"], [span(c.age_seconds)],
    [span(c.next_refresh_in_seconds)], [span(c.expires_in_seconds)], [String(c.consecutive_failures)], [c.last_error || ""], [app.provider]]);
}
function pct(p) { return String(Math.round(p * 10) / 10); }
function quotaRow(body, app, q) {
  const tr = document.createElement("tr");
  for (const text of [app.name, q.window, String(q.used), q.limit === undefined || q.limit === null ? "-" : String(q.limit)]) {
    const td = document.createElement("td"); td.textContent = text; tr.appendChild(td);
  }
  const has = q.percent !== undefined && q.percent !== null;
  const td = document.createElement("td");
  td.className = has && q.percent >= 100 ? "full" : has && q.percent >= 80 ? "high" : "ok";
  const bar = document.createElement("span"); bar.className = "bar";
  const fill = document.createElement("span"); fill.style.width = pct(has ? Math.min(100, q.percent) : 0) + "%";
  bar.appendChild(fill); td.appendChild(bar);
  td.appendChild(document.createTextNode(" " + (has ? pct(q.percent) + " %" : "no limit")));
  tr.appendChild(td);
  const issuer = document.createElement("td");
  issuer.textContent = q.issuer_used === undefined || q.issuer_used === null ? "-" : String(q.issuer_used);
  tr.appendChild(issuer); body.appendChild(tr);
}
function burnChart(body, app) {
  const div = document.createElement("div"); div.className = "burn"; div.dataset.app = app.name;
  const label = document.createElement("span"); label.className = "label";
  label.textContent = app.name + ": " + app.burn.reduce((a, b) => a + b, 0) + " calls in 24 h";
  div.appendChild(label);
  const peak = Math.max(1, ...app.burn);
  for (const calls of app.burn) {
    const h = document.createElement("span"); h.className = "h"; h.title = String(calls);
    h.style.height = (2 + Math.floor(calls * 28 / peak)) + "px"; div.appendChild(h);
  }
  body.appendChild(div);
}
function render(s) {
  document.getElementById("updated").textContent = time(s.now) + " UTC";
  document.getElementById("header").textContent = s.api_key_header;
  document.getElementById("mode").textContent = s.redis_coordinated ? "Tokens coordinated through Redis (one refresher for all hubs)." : "";
  const emulated = s.apps.filter(a => a.emulated).map(a => a.name);
  const banner = document.getElementById("banner");
  banner.textContent = emulated.length ? "EMULATOR: " + emulated.join(", ") + " served by an emulator; these tokens are not real tokens of their issuers." : "";
  banner.style.display = emulated.length ? "block" : "none";
  const apps = document.querySelector("#apps tbody"); apps.replaceChildren();
  if (s.notice) row(apps, [[s.notice, "notice"]]);
  for (const a of s.apps) { cacheRow(apps, a, "token", a.token); if (a.ticket) cacheRow(apps, a, "jsapi_ticket", a.ticket); }
  const quotas = document.querySelector("#quotas tbody"); quotas.replaceChildren();
  const burn = document.getElementById("burn"); burn.replaceChildren();
  for (const a of s.apps) { for (const q of a.quotas) quotaRow(quotas, a, q); burnChart(burn, a); }
  const timeline = document.querySelector("#timeline tbody"); timeline.replaceChildren();
  if (!s.timeline.length) row(timeline, [["no refresh yet"], [""], [""], [""], [""]]);
  for (const e of s.timeline) row(timeline, [[time(e.at)], [e.app], [e.cache], [e.outcome, e.outcome], [e.duration_ms + " ms"]]);
  const clients = document.querySelector("#clients tbody"); clients.replaceChildren();
  for (const c of s.clients) row(clients, [[c.id], [c.apps.join(", ")], [String(c.keys)]]);
}
async function load() {
  try {
    const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "Could not refresh: " + e.message;
  }
}
load();
setInterval(load, 5000);
</script>
</body>
</html>
""";
}
