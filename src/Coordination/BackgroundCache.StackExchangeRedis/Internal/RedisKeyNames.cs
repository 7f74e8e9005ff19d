using System.Text;

namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>
/// The names of one registration's keys: every key of a cache or set shares one hash tag, so that the coordinator's
/// scripts, which touch several of them at once, run on Redis Cluster (one hash slot) as on a single server.
/// </summary>
internal static class RedisKeyNames
{
    /// <summary>
    /// Gets the prefix of a registration's keys: <paramref name="keyPrefix"/> and <paramref name="name"/>, with the name as
    /// the hash tag (<c>backgroundcache:{wechat:app}</c>) unless the text already holds one (a <c>{tag}</c> the user chose
    /// in the prefix is kept).
    /// </summary>
    public static string Registration(string keyPrefix, string name)
    {
        var plain = keyPrefix + name;
        if (HasHashTag(plain))
        {
            return plain;
        }

        // Braces in the name are escaped (injectively), so the tag is the whole name and never empty.
        var tag = new StringBuilder(name.Length + 2).Append('{');
        foreach (var c in name)
        {
            _ = c switch
            {
                '{' => tag.Append("%7B"),
                '}' => tag.Append("%7D"),
                '%' => tag.Append("%25"),
                _ => tag.Append(c),
            };
        }

        return keyPrefix + (name.Length == 0 ? tag.Append("%}") : tag.Append('}'));
    }

    /// <summary>Gets a value indicating whether Redis Cluster hashes <paramref name="key"/> by a hash tag (a non-empty <c>{…}</c>).</summary>
    public static bool HasHashTag(string key)
    {
        var open = key.IndexOf('{');
        if (open < 0)
        {
            return false;
        }

        var close = key.IndexOf('}', open + 1);
        return close > open + 1;
    }
}
