namespace BackgroundCache.DingTalk;

/// <summary>Which DingTalk endpoint issues the access token.</summary>
public enum DingTalkApi
{
    /// <summary>The current API: <c>POST https://api.dingtalk.com/v1.0/oauth2/accessToken</c> with <c>{appKey, appSecret}</c>.</summary>
    New,

    /// <summary>The legacy API: <c>GET https://oapi.dingtalk.com/gettoken?appkey=…&amp;appsecret=…</c>.</summary>
    Legacy,
}
