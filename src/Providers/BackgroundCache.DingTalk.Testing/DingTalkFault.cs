namespace BackgroundCache.DingTalk.Testing;

/// <summary>A misbehaviour <see cref="DingTalkEmulator.InjectFault"/> makes token calls show.</summary>
public sealed class DingTalkFault
{
    private DingTalkFault(string name, int legacyErrorCode, int httpStatus, string? newApiCode)
    {
        Name = name;
        LegacyErrorCode = legacyErrorCode;
        HttpStatus = httpStatus;
        NewApiCode = newApiCode;
    }

    /// <summary>Gets system busy: legacy errcode -1, new API HTTP 503 <c>ServiceUnavailable</c>.</summary>
    public static DingTalkFault SystemBusy { get; } = new(nameof(SystemBusy), -1, 503, "ServiceUnavailable");

    /// <summary>Gets the per-app rate limit: legacy errcode 90019, new API HTTP 429 <c>Throttling.Api</c>.</summary>
    public static DingTalkFault RateLimited { get; } = new(nameof(RateLimited), 90019, 429, "Throttling.Api");

    /// <summary>Gets the platform's flow control: legacy errcode 90002, new API HTTP 503 <c>ServiceUnavailable</c>.</summary>
    public static DingTalkFault FlowControl { get; } = new(nameof(FlowControl), 90002, 503, "ServiceUnavailable");

    /// <summary>Gets a caller IP missing from the whitelist: legacy errcode 60020, new API HTTP 403 <c>Forbidden.AccessDenied.IpNotInWhiteList</c>.</summary>
    public static DingTalkFault IpNotAllowed { get; } = new(nameof(IpNotAllowed), 60020, 403, "Forbidden.AccessDenied.IpNotInWhiteList");

    /// <summary>Gets a missing permission: legacy errcode 88 with sub_code 60011, new API HTTP 403 <c>Forbidden.AccessDenied.AccessTokenPermissionDenied</c>.</summary>
    public static DingTalkFault PermissionDenied { get; } = new(nameof(PermissionDenied), 88, 403, "Forbidden.AccessDenied.AccessTokenPermissionDenied");

    /// <summary>Gets the HTML ban page (code 1111) both APIs show an IP that called too often.</summary>
    public static DingTalkFault IpBanPage { get; } = new(nameof(IpBanPage), 0, 403, null);

    /// <summary>Gets an HTTP 502 with an HTML body from a gateway.</summary>
    public static DingTalkFault GatewayError { get; } = new(nameof(GatewayError), 0, 502, null);

    /// <summary>Gets a 200 answer whose body is not JSON.</summary>
    public static DingTalkFault NotJson { get; } = new(nameof(NotJson), 0, 200, null);

    /// <summary>Gets the name of the fault.</summary>
    public string Name { get; }

    internal int LegacyErrorCode { get; }

    internal int HttpStatus { get; }

    internal string? NewApiCode { get; }

    /// <summary>Creates a fault that answers a legacy <c>errcode</c> (and, on the new API, HTTP 400 with <paramref name="newApiCode"/>).</summary>
    /// <param name="legacyErrorCode">The legacy API's errcode.</param>
    /// <param name="newApiCode">The new API's <c>code</c>.</param>
    /// <param name="httpStatus">The new API's HTTP status.</param>
    /// <returns>The fault.</returns>
    public static DingTalkFault Error(int legacyErrorCode, string newApiCode, int httpStatus = 400) => new($"Error({legacyErrorCode}, {newApiCode})", legacyErrorCode, httpStatus, newApiCode);

    /// <inheritdoc />
    public override string ToString() => Name;
}
