namespace BackgroundCache.TokenHub;

/// <summary>
/// Names of the token hub's own metrics (the caches it hosts also publish the <c>BackgroundCache</c> meter). Add the meter to
/// an exporter with <c>.AddMeter(TokenHubDiagnostics.MeterName)</c>.
/// </summary>
public static class TokenHubDiagnostics
{
    /// <summary>The name of the hub's meter.</summary>
    public const string MeterName = "BackgroundCache.TokenHub";

    /// <summary>
    /// The name of the counter of invalidation reports, tagged <see cref="ClientTag"/>, <see cref="OutcomeTag"/> and
    /// <c>backgroundcache.cache.name</c> (the app).
    /// </summary>
    public const string InvalidationsInstrument = "backgroundcache.tokenhub.invalidations";

    /// <summary>The tag that carries the client id (from configuration; never a key).</summary>
    public const string ClientTag = "backgroundcache.tokenhub.client";

    /// <summary>
    /// The tag that carries a report's outcome: <c>refreshed</c> (it named the token served, which was replaced),
    /// <c>confirmed</c> (it named the token served, and the issuer answered the same token: a WeChat stable token),
    /// <c>superseded</c> (the hub had already moved on; answered the current token at no cost), <c>limited</c> (429),
    /// <c>invalid</c> (400 or 413) or <c>unavailable</c> (503).
    /// </summary>
    public const string OutcomeTag = "backgroundcache.tokenhub.outcome";
}
