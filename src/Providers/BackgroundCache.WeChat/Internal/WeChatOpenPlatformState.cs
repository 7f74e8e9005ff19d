using BackgroundCache.Stores;

namespace BackgroundCache.WeChat.Internal;

/// <summary>
/// Where a WeChat third-party platform keeps its durable state, in the provider-neutral stores: the ticket under
/// <c>wechat:open:{component_appid}:ticket</c>, the authorizers' refresh tokens in the scope
/// <c>wechat:open:{component_appid}:authorizers</c> (the key layout of the earlier WeChat-only Redis store, so stored
/// authorizers survive the upgrade).
/// </summary>
internal static class WeChatOpenPlatformState
{
    public static string TicketKey(string componentAppId) => $"wechat:open:{componentAppId}:ticket";

    public static string AuthorizersScope(string componentAppId) => $"wechat:open:{componentAppId}:authorizers";

    /// <summary>Identifies an authorization code in the store (the origin of a refresh token) without storing the code.</summary>
    public static string CodeOrigin(string authorizationCode) => "code:" + AccessToken.ComputeFingerprint(authorizationCode);
}
