using System.Collections.Concurrent;
using System.Text.Json;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Fetches an authorizer's <c>authorizer_access_token</c> with its stored <c>authorizer_refresh_token</c> and the current
/// component token, and stores every refresh token an answer returns. 61023 (or no refresh token at all) removes the
/// authorizer from the store and the set: the key is gone, so there is no retry loop. Each refresh issues a new token
/// (and may rotate the refresh token), so the rule is replaces-on-fetch.
/// </summary>
internal sealed class WeChatAuthorizerTokenSource(WeChatComponentApi api) : IKeyedTokenSource<string>, ITokenRenewalRule
{
    public TokenRenewal Renewal => TokenRenewal.ReplacesOnFetch;

    /// <summary>A token obtained at authorization is used for the first load if it has at least this long to live.</summary>
    private static readonly TimeSpan SeedMinRemaining = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, AccessToken> _seeds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _unsaved = new(StringComparer.Ordinal);
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
        var store = api.Store;
        var unsaved = _unsaved.TryGetValue(key, out var pending) ? pending : null;
        var refreshToken = unsaved ?? await store.GetRefreshTokenAsync(options.ComponentAppId, key, cancellationToken).ConfigureAwait(false);
        if (refreshToken is null)
        {
            if (_warnedUnknown.Count < 1024 && _warnedUnknown.TryAdd(key, true))
            {
                Log.UnknownAuthorizer(api.Logger, api.Name, key); // once per appid: a caller reading it in a loop does not flood the log
            }

            throw await RemoveAsync(key, "no refresh token", cancellationToken).ConfigureAwait(false);
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
            if (!await store.RemoveAuthorizerAsync(options.ComponentAppId, key, refreshToken, cancellationToken).ConfigureAwait(false)
                && await store.GetRefreshTokenAsync(options.ComponentAppId, key, cancellationToken).ConfigureAwait(false) is { } newer
                && newer != refreshToken)
            {
                // A new authorization stored a new refresh token meanwhile: retry with it.
                _unsaved.TryRemove(key, out _);
                throw new WeChatApiException(61023, "refresh token replaced", WeChatErrorKind.Transient, $"The refresh token of authorizer {key} was refused, but a newer one was stored meanwhile; retrying with it.");
            }

            Log.AuthorizerRevoked(api.Logger, api.Name, key);
            throw await RemoveAsync(key, "61023", cancellationToken).ConfigureAwait(false);
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
                await SaveRefreshTokenAsync(key, next, cancellationToken).ConfigureAwait(false);
            }

            var token = new AccessToken(value, started.AddSeconds(expiresIn));
            Log.OpenPlatformTokenFetched(api.Logger, api.Name, "authorizer", key, token.Fingerprint, expiresIn);
            return token;
        }
    }

    private async Task SaveRefreshTokenAsync(string key, string refreshToken, CancellationToken cancellationToken)
    {
        try
        {
            await api.Store.SetRefreshTokenAsync(api.Options.ComponentAppId, key, refreshToken, cancellationToken).ConfigureAwait(false);
            _unsaved.TryRemove(key, out _);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The access token is good; the refresh token must not be lost: keep it and store it again next time.
            _unsaved[key] = refreshToken;
            Log.RefreshTokenNotStored(api.Logger, ex, api.Name, key);
        }
    }

    /// <summary>Removes the key from the set (which cancels this fetch) and returns the error for a caller that is not the set.</summary>
    private async Task<Exception> RemoveAsync(string key, string reason, CancellationToken cancellationToken)
    {
        Forget(key);
        if (await api.RemoveAuthorizerKeysAsync(key, CancellationToken.None).ConfigureAwait(false))
        {
            Log.AuthorizerRemoved(api.Logger, api.Name, key, reason);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new WeChatApiException(
            reason == "61023" ? 61023 : 0,
            reason,
            WeChatErrorKind.AuthorizationRevoked,
            $"Third-party platform '{api.Name}' has no valid authorization for {key} ({reason}): its owner must authorize the platform again.");
    }
}
