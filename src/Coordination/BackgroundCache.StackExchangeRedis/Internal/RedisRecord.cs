using System.Globalization;
using System.Text;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// One stored value in the hash of a cache or set: <c>{version}|{expiresAt as Unix ms, or empty}|{data}</c>. The version is
/// assigned by Redis (its clock in microseconds, and always above the version it replaces), so versions written after a
/// data loss or an empty restart still compare above the ones instances hold.
/// </summary>
internal readonly record struct RedisRecord(long Version, DateTimeOffset? ExpiresAt, ReadOnlyMemory<byte> Data)
{
    public static RedisRecord? Parse(byte[]? raw)
    {
        if (raw is null)
        {
            return null;
        }

        var first = Array.IndexOf(raw, (byte)'|');
        var second = first < 0 ? -1 : Array.IndexOf(raw, (byte)'|', first + 1);
        if (second < 0
            || !long.TryParse(Encoding.ASCII.GetString(raw, 0, first), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            return null;
        }

        DateTimeOffset? expiresAt = null;
        if (second > first + 1)
        {
            if (!long.TryParse(Encoding.ASCII.GetString(raw, first + 1, second - first - 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms))
            {
                return null;
            }

            expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }

        return new RedisRecord(version, expiresAt, raw.AsMemory(second + 1));
    }

    public static string FormatExpiry(DateTimeOffset? expiresAt) =>
        expiresAt?.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture) ?? string.Empty;

    public bool SameData(byte[] data) => Data.Span.SequenceEqual(data);
}
