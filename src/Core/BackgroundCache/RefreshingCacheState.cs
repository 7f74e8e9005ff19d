namespace BackgroundCache;

/// <summary>
/// The state of a refreshing cache.
/// </summary>
public enum RefreshingCacheState
{
    /// <summary>No value has been loaded yet and no attempt has failed.</summary>
    Loading,

    /// <summary>A value is served and the last refresh succeeded.</summary>
    Fresh,

    /// <summary>A value is served, but the latest refreshes failed (fail-safe).</summary>
    Stale,

    /// <summary>No usable value exists: it never loaded, or it expired while refreshes failed.</summary>
    Unavailable,

    /// <summary>The refresher has stopped; the last value, if any, is still readable.</summary>
    Stopped,
}
