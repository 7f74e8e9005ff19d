using Microsoft.Extensions.Logging;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>Log messages of the token hub package (event ids 4000-4999). No key, token or secret appears in any.</summary>
internal static partial class Log
{
    public const int EmulatedAppId = 4000;
    public const int RealAppId = 4001;
    public const int DevelopmentClientId = 4002;
    public const int InvalidationLimitedId = 4003;
    public const int RedisCoordinatedId = 4004;
    public const int RequestBodyRefusedId = 4005;
    public const int NoAppId = 4006;

    [LoggerMessage(EmulatedAppId, LogLevel.Warning, "App '{App}' is served by an EMULATOR at {Emulator}: its tokens are not real tokens of its issuer, and every answer says so. Configure the app's secret under TokenHub:Apps:{App} to use the issuer.")]
    public static partial void EmulatedApp(ILogger logger, string app, Uri emulator);

    [LoggerMessage(RealAppId, LogLevel.Information, "App '{App}' ({AppId}) refreshes its token from {Issuer} at {BaseAddress}.")]
    public static partial void RealApp(ILogger logger, string app, string appId, string issuer, Uri? baseAddress);

    [LoggerMessage(DevelopmentClientId, LogLevel.Warning, "No client is configured: in Development, client 'dev' with key 'dev-key' reads every app. Configure TokenHub:Clients to replace it; outside Development start fails without a client.")]
    public static partial void DevelopmentClient(ILogger logger);

    [LoggerMessage(InvalidationLimitedId, LogLevel.Warning, "An invalidation of app '{App}' by client '{Client}' exceeded the limit ({Limit} per {Window} {Scope}): answered 429.")]
    public static partial void InvalidationLimited(ILogger logger, string client, string app, int limit, TimeSpan window, string scope);

    [LoggerMessage(RedisCoordinatedId, LogLevel.Information, "Every app's token and JS-SDK ticket are coordinated through Redis (key prefix {Prefix}): one hub at a time calls WeChat for each.")]
    public static partial void RedisCoordinated(ILogger logger, string prefix);

    [LoggerMessage(NoAppId, LogLevel.Warning, "{Message}")]
    public static partial void NoApp(ILogger logger, string message);

    [LoggerMessage(RequestBodyRefusedId, LogLevel.Warning, "Client '{Client}' sent an invalidation for app '{App}' with a body over {Limit} bytes: answered 413.")]
    public static partial void RequestBodyRefused(ILogger logger, string client, string app, long limit);
}
