using Microsoft.Extensions.Configuration;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>Which upstream calls a window counts (a forced stable-token refresh is a token call too).</summary>
[Flags]
internal enum QuotaCalls
{
    None = 0,
    Token = 1,
    ForcedRefresh = 2,
}

/// <summary>
/// One of an issuer's quota windows for an app: its name (the <c>window</c> tag and the key under
/// <c>TokenHub:Apps:{name}:Quotas</c>), its length, the calls it counts, and its documented limit (null: counted only).
/// Windows start at multiples of their length in China Standard Time (UTC+8), when the issuers reset their daily quotas.
/// </summary>
internal sealed record QuotaWindow(string Name, TimeSpan Length, QuotaCalls Counts, long? Limit)
{
    public static readonly TimeSpan ResetOffset = TimeSpan.FromHours(8);

    /// <summary>The windows a key of <c>Quotas</c> may name, with their length and what they count.</summary>
    public static readonly IReadOnlyList<QuotaWindow> Known =
    [
        new("minute", TimeSpan.FromMinutes(1), QuotaCalls.Token, null),
        new("five_minutes", TimeSpan.FromMinutes(5), QuotaCalls.Token, null),
        new("hour", TimeSpan.FromHours(1), QuotaCalls.Token, null),
        new("day", TimeSpan.FromDays(1), QuotaCalls.Token, null),
        new("force_refresh_day", TimeSpan.FromDays(1), QuotaCalls.ForcedRefresh, null),
    ];

    /// <summary>The start of the window that holds <paramref name="now"/>, in Unix seconds.</summary>
    public long StartOf(DateTimeOffset now)
    {
        var local = now.ToUnixTimeSeconds() + (long)ResetOffset.TotalSeconds;
        var length = (long)Length.TotalSeconds;
        return local - (local % length) - (long)ResetOffset.TotalSeconds;
    }

    /// <summary>
    /// The provider's defaults with <c>TokenHub:Apps:{app}:Quotas</c> applied: a number sets a window's limit (adding the
    /// window), <c>0</c> keeps it counted without a limit. An unknown window name is a start-up failure (see <see cref="Unknown"/>).
    /// </summary>
    public static IReadOnlyList<QuotaWindow> Apply(IReadOnlyList<QuotaWindow> defaults, IConfigurationSection quotas)
    {
        var windows = defaults.ToDictionary(w => w.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var entry in quotas.GetChildren())
        {
            if (Known.FirstOrDefault(k => string.Equals(k.Name, entry.Key, StringComparison.OrdinalIgnoreCase)) is { } known
                && long.TryParse(entry.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var limit) && limit >= 0)
            {
                windows[known.Name] = known with { Limit = limit == 0 ? null : limit };
            }
        }

        return [.. windows.Values.OrderBy(w => w.Length).ThenBy(w => w.Name, StringComparer.Ordinal)];
    }

    /// <summary>The keys of <c>Quotas</c> that name no window or hold no whole number ≥ 0.</summary>
    public static IEnumerable<string> Unknown(IConfigurationSection quotas) => quotas.GetChildren()
        .Where(e => !Known.Any(k => string.Equals(k.Name, e.Key, StringComparison.OrdinalIgnoreCase))
            || !long.TryParse(e.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < 0)
        .Select(e => e.Key);
}
