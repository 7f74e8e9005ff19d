using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Log messages of the WeChat ASP.NET Core package (event ids 2100-2199).</summary>
internal static partial class Log
{
    public const int EventFailedId = 2100;

    [LoggerMessage(EventFailedId, LogLevel.Error, "WeChat Open Platform '{PlatformName}': a verified push could not be handled; answered 503 so WeChat pushes it again.")]
    public static partial void EventFailed(ILogger logger, Exception error, string platformName);
}
