using BackgroundCache.Coordination;
namespace BackgroundCache.StackExchangeRedis.Internal;

/// <summary>The Lua scripts: each runs atomically in Redis, over keys that share one hash slot.</summary>
internal sealed partial class RedisCacheCoordinator<T>
{
    /// <summary>
    /// Takes or renews the lease: renews it when <c>owner</c> holds it, takes it when it is free and <c>whenFree</c> is
    /// set. Returns 1 when <c>owner</c> holds the lease afterwards, otherwise 0.
    /// </summary>
    private const string AcquireLease = """
        local function acquireLease(key, owner, ms, whenFree)
          local current = redis.call('GET', key)
          if current == owner then
            redis.call('PEXPIRE', key, ms)
            return 1
          elseif not current and whenFree then
            redis.call('SET', key, owner, 'PX', ms)
            return 1
          end
          return 0
        end

        """;

    private const string AcquireScript = AcquireLease + """
        return acquireLease(KEYS[1], ARGV[1], ARGV[2], ARGV[3] == '1')
        """;

    /// <summary>
    /// The leader's renewal: renews the lease (or re-creates it when Redis lost it) like <see cref="AcquireScript"/>, and
    /// while it holds the lease takes the requests followers stored in <c>:requests</c> (a request whose channel message
    /// did not reach the leader). Returns <c>{ok, field, value, field, value, …}</c>.
    /// </summary>
    private const string RenewScript = AcquireLease + """
        local ok = acquireLease(KEYS[1], ARGV[1], ARGV[2], true)
        local result = { ok }
        if ok == 1 then
          local pending = redis.call('HGETALL', KEYS[2])
          if #pending > 0 then
            redis.call('DEL', KEYS[2])
            for i = 1, #pending do result[i + 1] = pending[i] end
          end
        end
        return result
        """;

    /// <summary>A follower's request, stored for the leader's next renewal (key → <c>{kind}|{version}</c>), kept for a while.</summary>
    private const string StoreRequestScript = """
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """;

    /// <summary>
    /// Counts a write: the counter (<c>:gen</c>, from a random base when missing) goes up by one and the write's random id
    /// is stored beside it (<c>{count}:{id}</c>), so that a counter restored from an older snapshot, and written again
    /// since, is never mistaken for the one instances saw. Returns <c>{count}:{id}</c>.
    /// </summary>
    private const string CountWrite = """
        local function countWrite(key, base, id)
          local g = redis.call('GET', key)
          local n = nil
          if g then n = tonumber(string.match(g, '^(%d+)')) end
          if not n then n = tonumber(base) end
          local text = string.format('%.0f', n + 1) .. ':' .. id
          redis.call('SET', key, text)
          return text
        end

        """;

    // KEYS: lease, values, suspect, gen, the refused-write marker of this write's id. ARGV: owner, key, expected version,
    // expiresAt, data, channel, lease ms, mode, the version the value already has (modes 'restore' and 'repair': a value
    // stored again keeps its version, the same on every instance), the counter's base, the write's id, the highest version
    // the writer knows (a new version exceeds it, whatever Redis's clock says after a failover), and the marker's lifetime
    // in ms. A refused 'fetch' write leaves the marker, so that its retry (same id) returns -3 instead of marking the value
    // stored since (the leader's answer to the first refusal) suspect in turn. Modes: 'fetch' (fenced on the lease and the expected version),
    // 'restore' (only where Redis lost the record), 'repair' (only over the expected, older, version: Redis lost writes).
    private const string WriteScript = CountWrite + """
        local lease = redis.call('GET', KEYS[1])
        local rec = redis.call('HGET', KEYS[2], ARGV[2])
        local stored = 0
        if rec then stored = tonumber(string.match(rec, '^(%d+)|')) or 0 end
        local storedText = string.format('%.0f', stored)
        local mode = ARGV[8]
        if mode == 'fetch' and redis.call('EXISTS', KEYS[5]) == 1 then
          return -3
        end
        if mode == 'restore' and rec then
          return -2
        end
        if mode == 'repair' then
          if not rec or ARGV[3] ~= storedText or tonumber(ARGV[9]) <= stored then return -2 end
        elseif (lease and lease ~= ARGV[1]) or (rec and ARGV[3] ~= storedText) then
          if rec and mode == 'fetch' then
            redis.call('HSET', KEYS[3], ARGV[2], storedText)
            redis.call('SET', KEYS[5], '1', 'PX', ARGV[13])
            local gen = countWrite(KEYS[4], ARGV[10], ARGV[11])
            redis.call('PUBLISH', ARGV[6], 'f|' .. storedText .. '|' .. gen .. '|' .. ARGV[2])
          end
          return -1
        end
        if not lease and mode ~= 'repair' then
          redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[7])
        end
        local version
        if mode ~= 'fetch' and tonumber(ARGV[9]) > 0 then
          version = tonumber(ARGV[9])
        else
          local t = redis.call('TIME')
          version = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), stored + 1, tonumber(ARGV[12]) + 1)
        end
        local versionText = string.format('%.0f', version)
        redis.call('HSET', KEYS[2], ARGV[2], versionText .. '|' .. ARGV[4] .. '|' .. ARGV[5])
        redis.call('HDEL', KEYS[3], ARGV[2])
        local gen = countWrite(KEYS[4], ARGV[10], ARGV[11])
        redis.call('PUBLISH', ARGV[6], 'v|' .. versionText .. '|' .. gen .. '|' .. ARGV[2])
        return version
        """;

    private const string RemoveScript = CountWrite + """
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('HDEL', KEYS[4], ARGV[1])
        local gen = countWrite(KEYS[3], ARGV[3], ARGV[4])
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
