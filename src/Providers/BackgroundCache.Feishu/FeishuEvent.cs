namespace BackgroundCache.Feishu;

/// <summary>A push handled by <see cref="FeishuStoreApp.HandleEventAsync"/>.</summary>
/// <param name="EventType">The event's type (<c>app_ticket</c>, <c>url_verification</c>, <c>app_open</c>, …).</param>
/// <param name="TenantKey">The tenant the event is about, when it names one.</param>
/// <param name="CreatedAt">When Feishu created the event (its <c>ts</c> or <c>create_time</c>), or when it was received.</param>
/// <param name="Challenge">For <c>url_verification</c>: the challenge to echo as <c>{"challenge": …}</c>; otherwise <see langword="null"/>.</param>
public sealed record FeishuEvent(string EventType, string? TenantKey, DateTimeOffset CreatedAt, string? Challenge);
