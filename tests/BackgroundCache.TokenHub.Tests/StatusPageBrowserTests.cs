using System.Diagnostics;
using System.Text.RegularExpressions;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace BackgroundCache.TokenHub.Tests;

/// <summary>
/// The status page as a person sees it: headless Chromium (Debian's <c>chromium</c>; .ci/run installs it) loads the page,
/// runs its script (which reads status.json), and the test reads the rendered DOM. The hub's clock is fake, so every age
/// and countdown on the page is fixed.
/// </summary>
public sealed partial class StatusPageBrowserTests(ITestOutputHelper output) : IAsyncLifetime
{
    public const string NotInstalled = "chromium is not installed (Debian/Ubuntu: apt-get install -y chromium); .ci/run installs it and requires this test to run.";
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 25, 8, 0, 0, TimeSpan.Zero));
    private WeChatEmulator _emulator = null!;

    public static string? Browser { get; } =
        new[] { "chromium", "chromium-browser", "google-chrome" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Select(d => Path.Combine(d, name)))
            .FirstOrDefault(File.Exists);

    public async Task InitializeAsync() => _emulator = await HubHost.StartEmulatorAsync(_time);

    public async Task DisposeAsync() => await _emulator.DisposeAsync();

    [SkippableFact]
    public async Task StatusPage_InHeadlessChromium_ShowsEachAppsStateAgeNextRefreshExpiryTheRefreshesAndTheClients()
    {
        Skip.If(Browser is null, NotInstalled);
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings["TokenHub:UseEmulator"] = "true";
        settings["TokenHub:Apps:a:Cache:Jitter"] = "00:00:00"; // next refresh exactly RefreshBeforeExpiry (5 min) before expiry
        settings["TokenHub:Apps:b:Cache:Jitter"] = "00:00:00";
        await using var hub = await HubHost.StartAsync(settings, _time, configure: (_, h) => h.WithEmulatedApp("b", _emulator.BaseAddress, "secret-b"));
        var first = await hub.TokenAsync("a", "key-a");
        await hub.TokenAsync("b", "key-b1");
        await hub.GetJsonAsync("tickets/a", "key-a");
        await WaitForTimelineAsync(hub, 3); // the three first loads recorded: nothing in flight when the clock moves
        _time.Advance(TimeSpan.FromMinutes(10));
        using (var report = await hub.SendAsync(HttpMethod.Post, "tokens/a/invalidate", "key-a", new { access_token = first }))
        {
            report.EnsureSuccessStatusCode();
        }

        // The new token makes the ticket refresh too (in the background): wait for it before moving the clock on.
        await WaitForTimelineAsync(hub, 5);

        _time.Advance(TimeSpan.FromSeconds(75));

        var dom = await DumpDomAsync(hub.Address);

        var timelineSeen = string.Join(" | ", Rows(dom, "timeline").Select(r => string.Join(" ", r)));
        var rows = Rows(dom, "apps");
        string[] Row(string app, string kind) => rows.Single(r => r[0] == app && r[1] == kind);

        // app, cache, state, version, fingerprint, age, next refresh in, expires in, failures, last error
        Row("a", "token").Should().Equal("a", "token", "Fresh", "2", Row("a", "token")[4], "1m 15s", "1h 53m 45s", "1h 58m 45s", "0", string.Empty, "WeChat");
        Row("a", "token")[4].Should().MatchRegex("^[0-9a-f]{8}$");
        Row("b", "token").Should().Equal("b", "token", "Fresh", "1", Row("b", "token")[4], "11m 15s", "1h 43m 45s", "1h 48m 45s", "0", string.Empty, "WeChat");
        Row("a", "jsapi_ticket").Should().Equal("a", "jsapi_ticket", "Fresh", "2", Row("a", "jsapi_ticket")[4], "1m 15s", "1h 53m 45s", "1h 58m 45s", "0", string.Empty, "WeChat");
        rows.Should().HaveCount(3);
        // Newest first: the invalidation refreshed a's token and then its ticket; at start, each cache loaded once.
        Rows(dom, "timeline").Select(r => (r[0], r[1], r[2], r[3])).Should().BeEquivalentTo(new[]
        {
            ("2026-11-25 08:10:00", "a", "token", "success"),
            ("2026-11-25 08:10:00", "a", "jsapi_ticket", "success"),
            ("2026-11-25 08:00:00", "b", "token", "success"),
            ("2026-11-25 08:00:00", "a", "token", "success"),
            ("2026-11-25 08:00:00", "a", "jsapi_ticket", "success"),
        }, because: "the page shows {0}", timelineSeen);
        Rows(dom, "timeline").Select(r => r[0]).Should().BeInDescendingOrder(StringComparer.Ordinal);
        Rows(dom, "clients").Should().BeEquivalentTo(new[] { new[] { "all", "*", "1" }, ["ca", "a", "1"], ["cb", "b", "2"] }, o => o.WithStrictOrdering());
        Text(dom, "banner").Should().Contain("EMULATOR").And.Contain("b").And.NotContain("a,");
        Text(dom, "updated").Should().Be("2026-11-25 08:11:15 UTC");
        Text(dom, "error").Should().BeEmpty();
        dom.Should().NotContain(first);
    }

    [Fact]
    public async Task StatusPage_FetchedWithoutScript_HasTheFirstDataRenderedByTheServer()
    {
        var settings = HubHost.TwoAppsThreeClients(_emulator);
        settings["TokenHub:Apps:a:Cache:Jitter"] = "00:00:00";
        await using var hub = await HubHost.StartAsync(settings, _time);
        await hub.TokenAsync("a", "key-a");
        await hub.TokenAsync("b", "key-b1");
        await hub.GetJsonAsync("tickets/a", "key-a");
        await WaitForTimelineAsync(hub, 3);
        _time.Advance(TimeSpan.FromSeconds(75));

        var html = await hub.Http.GetStringAsync(hub.Address); // what curl sees: no script runs

        var rows = Rows(html, "apps");
        rows.Select(r => (r[0], r[1], r[2], r[3], r[5])).Should().BeEquivalentTo(new[]
        {
            ("a", "token", "Fresh", "1", "1m 15s"),
            ("a", "jsapi_ticket", "Fresh", "1", "1m 15s"),
            ("b", "token", "Fresh", "1", "1m 15s"),
        });
        rows.Single(r => r[0] == "a" && r[1] == "token")[6].Should().Be("1h 53m 45s");
        Rows(html, "timeline").Select(r => (r[0], r[1], r[2], r[3])).Should().BeEquivalentTo(new[]
        {
            ("2026-11-25 08:00:00", "a", "token", "success"),
            ("2026-11-25 08:00:00", "a", "jsapi_ticket", "success"),
            ("2026-11-25 08:00:00", "b", "token", "success"),
        });
        Rows(html, "clients").Should().BeEquivalentTo(new[] { new[] { "all", "*", "1" }, ["ca", "a", "1"], ["cb", "b", "2"] }, o => o.WithStrictOrdering());
        Text(html, "updated").Should().Be("2026-11-25 08:01:15 UTC");
        Text(html, "banner").Should().BeEmpty();
    }

    [SkippableFact]
    public async Task StatusPage_InHeadlessChromium_ShowsThreeProvidersTheirQuotasAndBurn()
    {
        Skip.If(Browser is null, NotInstalled);
        _emulator.AddComponent(ProviderTests.ComponentAppId, "platform-secret", ProviderTests.ComponentToken, ProviderTests.EncodingAesKey);
        await using var oauth = await BackgroundCache.Samples.TokenHub.OAuthEmulator.StartAsync();
        oauth.AddClient("billing", "billing-secret");
        var settings = ProviderTests.ThreeProviders(_emulator, oauth);
        settings["TokenHub:Apps:oauth:Quotas:day"] = "10";
        await using var hub = await HubHost.StartAsync(settings, _time);
        await ProviderTests.PushTicketAndAuthorizeAsync(_emulator, hub, "wx-authorizer");
        await hub.TokenAsync("wechat", "key-front");
        await hub.TokenAsync("platform", "key-front");
        var tokens = hub.App.Services.GetRequiredService<Internal.TokenHubCaches>().Token("oauth")!;
        while (oauth.TokenCalls("billing") < 8)
        {
            await tokens.RefreshAsync();
            _time.Advance(TimeSpan.FromSeconds(31));
        }

        var dom = await DumpDomAsync(hub.Address);

        Rows(dom, "apps").Select(r => (r[0], r[1], r[2], r[^1])).Should().BeEquivalentTo(new[]
        {
            ("oauth", "token", "Fresh", "ClientCredentials"),
            ("platform", "token", "Fresh", "WeChatOpenPlatform"),
            ("wechat", "token", "Fresh", "WeChat"),
            ("wechat", "jsapi_ticket", "Fresh", "WeChat"),
        });
        var quotas = Rows(dom, "quotas");
        quotas.Should().ContainEquivalentOf(new[] { "oauth", "day", "8", "10", "80 %", "-" })
            .And.ContainEquivalentOf(new[] { "platform", "day", "1", "-", "no limit", "-" })
            .And.ContainEquivalentOf(new[] { "wechat", "day", "1", "500000", "0 %", "-" })
            .And.ContainEquivalentOf(new[] { "wechat", "force_refresh_day", "0", "20", "0 %", "-" });
        dom.Should().MatchRegex("<td class=\"high\"><span class=\"bar\"><span style=\"width: 80%;\">", "the 80 % bar is drawn in the warning colour, 80 % wide");
        Regex.Matches(dom, "class=\"label\">([^<]*)<").Select(m => m.Groups[1].Value).Should().Equal("oauth: 8 calls in 24 h", "platform: 1 calls in 24 h", "wechat: 1 calls in 24 h");
        Text(dom, "error").Should().BeEmpty();
    }

    private static async Task WaitForTimelineAsync(HubHost hub, int entries)
    {
        using var guard = new CancellationTokenSource(HubHost.Guard);
        while (true)
        {
            var status = await hub.GetJsonAsync("status.json", null);
            if (status.GetProperty("timeline").GetArrayLength() >= entries)
            {
                return;
            }

            if (guard.IsCancellationRequested)
            {
                throw new TimeoutException($"The timeline did not reach {entries} entries: {status}");
            }

            await Task.Yield();
        }
    }

    private async Task<string> DumpDomAsync(Uri address)
    {
        var profile = Directory.CreateTempSubdirectory("tokenhub-chromium-");
        try
        {
            var start = new ProcessStartInfo(Browser!)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                $"--user-data-dir={profile.FullName}",
                "--virtual-time-budget=3000", // lets the page's script fetch status.json and render before the DOM is dumped
                "--dump-dom", address.ToString(),
            })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(guard.Token);
            var dom = await stdout;
            output.WriteLine(dom);
            if (string.IsNullOrWhiteSpace(dom))
            {
                output.WriteLine(await stderr);
            }

            return dom;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }

    private static List<string[]> Rows(string dom, string table)
    {
        var body = Regex.Match(dom, $"<table id=\"{table}\">.*?<tbody>(.*?)</tbody>", RegexOptions.Singleline).Groups[1].Value;
        return RowPattern().Matches(body)
            .Select(r => CellPattern().Matches(r.Groups[1].Value).Select(c => System.Net.WebUtility.HtmlDecode(TagPattern().Replace(c.Groups[1].Value, string.Empty).Trim())).ToArray())
            .ToList();
    }

    private static string Text(string dom, string id) =>
        System.Net.WebUtility.HtmlDecode(Regex.Match(dom, $"id=\"{id}\"[^>]*>(.*?)</", RegexOptions.Singleline).Groups[1].Value);

    [GeneratedRegex("<tr>(.*?)</tr>", RegexOptions.Singleline)]
    private static partial Regex RowPattern();

    [GeneratedRegex("<td[^>]*>(.*?)</td>", RegexOptions.Singleline)]
    private static partial Regex CellPattern();

    [GeneratedRegex("<[^>]+>")]
    private static partial Regex TagPattern();
}
