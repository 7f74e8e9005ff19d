using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using BackgroundCache.Internal;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace BackgroundCache.StackExchangeRedis.Internal;

internal sealed partial class RedisCacheCoordinator<T>
{
    private const string AcquireScript = """
        local current = redis.call('GET', KEYS[1])
        local ok = 0
        if current == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          ok = 1
        elseif not current and ARGV[3] == '1' then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
          ok = 1
        end
        return ok
        """;

    // KEYS: lease, values, suspect, gen. ARGV: owner, key, expected version, expiresAt, data, channel, lease ms, mode,
    // and for mode 'restore' the version the value already has (a value stored again keeps its version: same value, same
    // version, on every instance).
    private const string WriteScript = """
        local lease = redis.call('GET', KEYS[1])
        local rec = redis.call('HGET', KEYS[2], ARGV[2])
        local stored = 0
        if rec then stored = tonumber(string.match(rec, '^(%d+)|')) or 0 end
        local storedText = string.format('%.0f', stored)
        if ARGV[8] == 'restore' and rec then
          return -2
        end
        if (lease and lease ~= ARGV[1]) or (rec and ARGV[3] ~= storedText) then
          if rec and ARGV[8] == 'fetch' then
            redis.call('HSET', KEYS[3], ARGV[2], storedText)
            if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SET', KEYS[4], ARGV[10]) end
            local gen = redis.call('INCR', KEYS[4])
            redis.call('PUBLISH', ARGV[6], 'f|' .. storedText .. '|' .. gen .. '|' .. ARGV[2])
          end
          return -1
        end
        if not lease then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[7])
        end
        local version
        if ARGV[8] == 'restore' and tonumber(ARGV[9]) > 0 then
          version = tonumber(ARGV[9])
        else
          local t = redis.call('TIME')
          version = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), stored + 1)
        end
        local versionText = string.format('%.0f', version)
        redis.call('HSET', KEYS[2], ARGV[2], versionText .. '|' .. ARGV[4] .. '|' .. ARGV[5])
        redis.call('HDEL', KEYS[3], ARGV[2])
        if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('SET', KEYS[4], ARGV[10]) end
        local gen = redis.call('INCR', KEYS[4])
        redis.call('PUBLISH', ARGV[6], 'v|' .. versionText .. '|' .. gen .. '|' .. ARGV[2])
        return version
        """;

    private const string RemoveScript = """
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('SET', KEYS[3], ARGV[3]) end
        local gen = redis.call('INCR', KEYS[3])
        redis.call('PUBLISH', ARGV[2], 'd|0|' .. gen .. '|' .. ARGV[1])
        return 1
        """;

    private const string PollScript = """
        local gen = redis.call('GET', KEYS[1])
        return { gen or '-1', redis.call('HLEN', KEYS[2]), redis.call('GET', KEYS[3]) or '' }
        """;

    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          return redis.call('DEL', KEYS[1])
        end
        return 0
        """;
}
