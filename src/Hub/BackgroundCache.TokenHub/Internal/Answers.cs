using System.Text.Json.Serialization;

namespace BackgroundCache.TokenHub.Internal;

internal sealed record TokenAnswer(string AccessToken, DateTimeOffset ExpiresAt, long ExpiresIn, bool? Emulated);

/// <summary>
/// The answer to an invalidation: the current token and whether it replaced the reported one. <see cref="Replaced"/> is
/// false when the issuer confirmed the reported token (a WeChat stable token is the same until its last minutes), and
/// <see cref="Detail"/> then says so.
/// </summary>
internal sealed record InvalidateAnswer(string AccessToken, DateTimeOffset ExpiresAt, long ExpiresIn, bool Replaced, string? Detail, bool? Emulated);

internal sealed record TicketAnswer(string Ticket, DateTimeOffset ExpiresAt, long ExpiresIn, bool? Emulated);

internal sealed record ErrorAnswer(string Error, string? Detail = null, string? Name = null);

internal sealed record UnavailableAnswer(string Error, string Name, string State, string Reason, int ConsecutiveFailures, bool? Emulated);

internal sealed record InvalidateRequest(string? AccessToken);

internal sealed record SignatureRequest(string? Url);

/// <summary>What <c>wx.config</c> takes, in its own (camelCase) names; never the ticket.</summary>
internal sealed record SignatureAnswer(
    [property: JsonPropertyName("appId")] string AppId,
    [property: JsonPropertyName("timestamp")] long Timestamp,
    [property: JsonPropertyName("nonceStr")] string NonceStr,
    [property: JsonPropertyName("signature")] string Signature,
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("emulated")] bool? Emulated);

internal sealed record StatusReport(
    DateTimeOffset Now,
    bool RedisCoordinated,
    bool RequireApiKeyForStatus,
    string ApiKeyHeader,
    IReadOnlyList<AppReport> Apps,
    IReadOnlyList<TimelineEntry> Timeline,
    IReadOnlyList<ClientReport> Clients,
    string? Notice);

internal sealed record AppReport(string Name, bool Emulated, string? Emulator, CacheReport Token, CacheReport? Ticket, string Provider, IReadOnlyList<QuotaReport> Quotas, IReadOnlyList<long> Burn);

/// <summary>One quota window of an app: calls so far, the limit (null: counted only) and the share used, in percent.</summary>
internal sealed record QuotaReport(string Window, long Used, long? Limit, double? Percent, long? IssuerUsed = null);

internal sealed record CacheReport(
    string State,
    long Version,
    string? Fingerprint,
    DateTimeOffset? LastRefreshedAt,
    double? AgeSeconds,
    DateTimeOffset? NextRefreshAt,
    double? NextRefreshInSeconds,
    DateTimeOffset? ExpiresAt,
    double? ExpiresInSeconds,
    int ConsecutiveFailures,
    string? LastError);

/// <summary>One refresh: <see cref="Cache"/> is <c>token</c> or <c>jsapi_ticket</c>, as in the apps table.</summary>
internal sealed record TimelineEntry(DateTimeOffset At, string App, string Cache, string Outcome, double DurationMs);

internal sealed record ClientReport(string Id, IReadOnlyList<string> Apps, int Keys);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TokenAnswer))]
[JsonSerializable(typeof(InvalidateAnswer))]
[JsonSerializable(typeof(TicketAnswer))]
[JsonSerializable(typeof(ErrorAnswer))]
[JsonSerializable(typeof(UnavailableAnswer))]
[JsonSerializable(typeof(InvalidateRequest))]
[JsonSerializable(typeof(SignatureRequest))]
[JsonSerializable(typeof(SignatureAnswer))]
[JsonSerializable(typeof(StatusReport))]
internal sealed partial class TokenHubJsonContext : JsonSerializerContext;
