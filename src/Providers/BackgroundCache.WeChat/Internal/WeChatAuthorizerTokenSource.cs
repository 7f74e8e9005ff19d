using System.Collections.Concurrent;
using System.Text.Json;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Fetches an authorizer's <c>authorizer_access_token</c> with its stored <c>authorizer_refresh_token</c> and the current
/// component token, and stores every refresh token an answer returns. 61023 (or no refresh token at all) removes the
/// authorizer from the store and the set (<see cref="CacheKeyNotFoundException"/>: the set drops the key and its readers learn
/// that the account is not authorized): the key is gone, so there is no retry loop. Each refresh issues a new token
/// (and may rotate the refresh token), so the rule is replaces-on-fetch.
/// </summary>
internal sealed class WeChatAuthorizerTokenSource(WeChatComponentApi api) : IKeyedTokenSource<string>, ITokenRenewalRule
{
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    /// <summary>A token obtained at authorization is used for the first load if it has at least this long to live.</summary>
    private static readonly TimeSpan SeedMinRemaining = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, AccessToken> _seeds = new(StringComparer.Ordinal);
    /// <summary>Rotated refresh tokens the store could not take: the one the store still holds, and the current one.</summary>
    private readonly ConcurrentDictionary<string, (string Stored, string Current)> _unsaved = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _warnedUnknown = new(StringComparer.Ordinal);

    /// <summary>Keeps the token <c>api_query_auth</c> returned, so the authorizer's first load needs no upstream call.</summary>
    public void Seed(string authorizerAppId, AccessToken token)
    {
        _seeds[authorizerAppId] = token;
        _unsaved.TryRemove(authorizerAppId, out _);
        _warnedUnknown.TryRemove(authorizerAppId, out _);
    }

    public void Forget(string authorizerAppId)
    {
        _seeds.TryRemove(authorizerAppId, out _);
        _unsaved.TryRemove(authorizerAppId, out _);
    }

    public async ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (_seeds.TryRemove(key, out var seed) && seed.ExpiresAt - api.Time.GetUtcNow() >= SeedMinRemaining)
        {
            return seed;
        }

        var options = api.Options;
        var secrets = api.Secrets;
        var scope = api.AuthorizersScope;
        var unsaved = _unsaved.TryGetValue(key, out var pending) ? pending : ((string Stored, string Current)?)null;
        var storedToken = unsaved?.Stored ?? (await secrets.GetSecretAsync(scope, key, cancellationToken).ConfigureAwait(false))?.Value;
        var refreshToken = unsaved?.Current ?? storedToken;
        if (refreshToken is null || storedToken is null)
        {
            if (_warnedUnknown.Count < 1024 && _warnedUnknown.TryAdd(key, true))
            {
                Log.UnknownAuthorizer(api.Logger, api.Name, key); // once per appid: a caller reading it in a loop does not flood the log
            }

            throw await GoneAsync(key, revoked: false).ConfigureAwait(false);
        }

        var started = api.Time.GetUtcNow();
        var revoked = false;
        JsonDocument document;
        try
        {
            document = await api.PostWithComponentTokenAsync(
                "cgi-bin/component/api_authorizer_token",
                [
                    new("component_appid", options.ComponentAppId),
                    new("authorizer_appid", key),
                    new("authorizer_refresh_token", refreshToken),
                ],
                (code, _) =>
                {
                    revoked = code == 61023;
                    return null;
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (WeChatApiException) when (revoked)
        {
            if (!await secrets.RemoveSecretAsync(scope, key, storedToken, cancellationToken).ConfigureAwait(false)
                && (await secrets.GetSecretAsync(scope, key, cancellationToken).ConfigureAwait(false))?.Value is { } newer
                && newer != storedToken)
            {
                // A new authorization stored a new refresh token meanwhile: retry with it.
                _unsaved.TryRemove(key, out _);
                throw new WeChatApiException(61023, "refresh token replaced", WeChatErrorKind.Transient, $"The refresh token of authorizer {key} was refused, but a newer one was stored meanwhile; retrying with it.");
            }

            Log.AuthorizerRevoked(api.Logger, api.Name, key);
            throw await GoneAsync(key, revoked: true).ConfigureAwait(false);
        }

        using (document)
        {
            var root = document.RootElement;
            var (value, expiresIn, problem) = WeChatJson.ReadSecret(root, "authorizer_access_token");
            if (value is null)
            {
                throw WeChatErrors.InvalidResponse(options.ComponentAppId, $"an authorizer token answer with {problem}", null);
            }

            var next = WeChatComponentApi.GetString(root, "authorizer_refresh_token");
            if (!string.IsNullOrEmpty(next) && (next != refreshToken || unsaved is not null))
            {
                await SaveRefreshTokenAsync(key, storedToken, next!, cancellationToken).ConfigureAwait(false);
            }

            var token = new AccessToken(value, started.AddSeconds(expiresIn));
            Log.OpenPlatformTokenFetched(api.Logger, api.Name, "authorizer", key, token.Fingerprint, expiresIn);
            return token;
        }
    }

    /// <summary>
    /// Stores a rotated refresh token in place of the one the store holds, only if it still holds it: a removal or a new
    /// authorization that landed meanwhile stands.
    /// </summary>
    private async Task SaveRefreshTokenAsync(string key, string stored, string refreshToken, CancellationToken cancellationToken)
    {
        try
        {
            await api.Secrets.ReplaceSecretAsync(api.AuthorizersScope, key, stored, refreshToken, cancellationToken).ConfigureAwait(false);
            _unsaved.TryRemove(key, out _);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The access token is good; the refresh token must not be lost: keep it and store it again next time.
            _unsaved[key] = (stored, refreshToken);
            Log.RefreshTokenNotStored(api.Logger, ex, api.Name, key);
        }
    }

    /// <summary>
    /// The error that makes the set drop the key (<see cref="CacheKeyNotFoundException"/>: its readers get this message);
    /// the key's JS-SDK ticket, if any, goes too.
    /// </summary>
    private async Task<Exception> GoneAsync(string key, bool revoked)
    {
        Forget(key);
        await api.RemoveAuthorizerTicketAsync(key, CancellationToken.None).ConfigureAwait(false);
        var options = api.Options;
        string message;
        if (revoked)
        {
            Log.AuthorizerRemoved(api.Logger, api.Name, key, "61023");
            message = $"{key} is no longer an authorized account of third-party platform '{api.Name}' ({options.ComponentAppId}): WeChat refused its refresh token (errcode 61023: the authorization was revoked or replaced). Its owner must authorize the platform again.";
        }
        else
        {
            message = $"{key} is not an authorized account of third-party platform '{api.Name}' ({options.ComponentAppId}): the platform holds no authorization (refresh token) for it. Its owner must authorize the platform first.";
        }

        var cause = new WeChatApiException(revoked ? 61023 : 0, revoked ? "refresh_token is invalid" : "not authorized", WeChatErrorKind.AuthorizationRevoked, message);
        return new CacheKeyNotFoundException(message, cause);
    }
}
