using System.Net;
using System.Text;
using BackgroundCache.WeChat.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.WeChat.Tests;

/// <summary>WeChat answers that broke the first release (issue #11, item 8).</summary>
public sealed class WeChatAnswerRobustnessTests
{
    private const int MaxErrmsg = 256;

    public static TheoryData<string, byte[]> InvalidUtf8Answers => new()
    {
        { "invalid UTF-8 in access_token", Bytes("{\"access_token\":\"80_", [0xFF, 0xFE], "\",\"expires_in\":7200}") },
        { "invalid UTF-8 in errmsg", Bytes("{\"errcode\":-1,\"errmsg\":\"system ", [0xC3, 0x28], " error\"}") },
        { "truncated multi-byte sequence", Bytes("{\"errcode\":40001,\"errmsg\":\"", [0xE6, 0x97], "\"}") },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8Answers))]
    public async Task InvalidUtf8Answer_FailsWithWeChatApiExceptionInvalidResponseAndKeepsLastToken(string description, byte[] body)
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token);
        await h.WaitIdleAsync();
        var token = await h.Cache.GetAsync();
        h.Emulator.InjectFault(WeChatFault.RawBody(body, description));

        var act = () => h.Cache.RefreshAsync();

        var error = (await act.Should().ThrowAsync<WeChatApiException>(description)).Which;
        error.Kind.Should().Be(WeChatErrorKind.InvalidResponse);
        error.Message.Should().Contain("not valid UTF-8");
        (await h.Cache.GetAsync()).Should().Be(token);
    }

    [Fact]
    public async Task EscapedLoneSurrogateInAccessToken_FailsWithWeChatApiExceptionInvalidResponse()
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token);
        await h.WaitIdleAsync();
        h.Emulator.InjectFault(WeChatFault.Body("{\"access_token\":\"80_\\ud800\",\"expires_in\":7200}"));

        var act = () => h.Cache.RefreshAsync();

        (await act.Should().ThrowAsync<WeChatApiException>()).Which.Kind.Should().Be(WeChatErrorKind.InvalidResponse);
    }

    [Fact]
    public async Task HugeErrmsg_IsTruncatedInTheExceptionLogsHealthAndStatus()
    {
        var huge = "busy" + new string('x', 60_000);
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, build: b => b.WithHealthCheck());
        await h.WaitIdleAsync();
        h.Emulator.InjectFault(WeChatFault.Error(-1, huge));

        var act = () => h.Cache.RefreshAsync();

        var error = (await act.Should().ThrowAsync<WeChatApiException>()).Which;
        error.ErrorMessage.Length.Should().BeLessThanOrEqualTo(MaxErrmsg + 40, "the cut says how much was cut");
        error.ErrorMessage.Should().StartWith("busyxxx").And.Contain("more characters");
        error.Message.Length.Should().BeLessThan(1_000);
        h.Cache.Status.LastError!.Message.Length.Should().BeLessThan(1_000);
        var report = await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var entry = report.Entries.Values.Should().ContainSingle().Subject;
        entry.Description!.Length.Should().BeLessThan(1_500);
        entry.Data.Values.OfType<string>().Should().OnlyContain(v => v.Length < 1_500);
        var longRun = new string('x', MaxErrmsg + 1);
        h.Logs.GetSnapshot().Should().NotContain(r => (r.Message + r.Exception).Contains(longRun, StringComparison.Ordinal));
    }

    public static TheoryData<string, string> EchoedSecrets => new()
    {
        { "as written", WeChatHarness.AppSecret },
        { "every byte percent-encoded", PercentEncodeAll(WeChatHarness.AppSecret, upper: true) },
        { "every byte percent-encoded, lower-case hex", PercentEncodeAll(WeChatHarness.AppSecret, upper: false) },
        { "partly percent-encoded", WeChatHarness.AppSecret.Replace("-", "%2D", StringComparison.Ordinal) },
        { "double percent-encoded", PercentEncodeAll(WeChatHarness.AppSecret, upper: true).Replace("%", "%25", StringComparison.Ordinal) },
        { "upper case", WeChatHarness.AppSecret.ToUpperInvariant() },
        { "base64", Convert.ToBase64String(Encoding.UTF8.GetBytes(WeChatHarness.AppSecret)) },
        { "hex", Convert.ToHexString(Encoding.UTF8.GetBytes(WeChatHarness.AppSecret)) },
        { "form-encoded in a query", "secret=" + WebUtility.UrlEncode(WeChatHarness.AppSecret) + "&appid=x" },
    };

    [Theory]
    [MemberData(nameof(EchoedSecrets))]
    public async Task ErrmsgEchoingTheSecret_InAnObviousEncoding_IsRedactedEverywhere(string description, string echoed)
    {
        await using var h = await WeChatHarness.StartAsync(WeChatTokenMode.Token, build: b => b.WithHealthCheck());
        await h.WaitIdleAsync();
        h.Emulator.InjectFault(WeChatFault.Error(40125, $"invalid appsecret {echoed}, hint: check it"));

        var act = () => h.Cache.RefreshAsync();

        var error = (await act.Should().ThrowAsync<WeChatApiException>(description)).Which;
        error.ErrorCode.Should().Be(40125);
        var report = await h.Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var texts = h.Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception)
            .Append(error.ToString())
            .Append(error.ErrorMessage)
            .Append(h.Cache.Status.LastError!.ToString())
            .Concat(report.Entries.Values.Select(e => e.Description + " " + string.Join(" ", e.Data.Values)))
            .ToList();
        texts.Should().Contain(t => t.Contains("invalid appsecret", StringComparison.Ordinal), "the rest of errmsg is kept");
        foreach (var form in new[] { echoed, WeChatHarness.AppSecret, PercentEncodeAll(WeChatHarness.AppSecret, upper: true) })
        {
            texts.Should().NotContain(t => t.Contains(form, StringComparison.OrdinalIgnoreCase), description);
        }
    }

    private static byte[] Bytes(string before, byte[] middle, string after) =>
        [.. Encoding.UTF8.GetBytes(before), .. middle, .. Encoding.UTF8.GetBytes(after)];

    private static string PercentEncodeAll(string text, bool upper) =>
        string.Concat(Encoding.UTF8.GetBytes(text).Select(b => "%" + b.ToString(upper ? "X2" : "x2", System.Globalization.CultureInfo.InvariantCulture)));
}
