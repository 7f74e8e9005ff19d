using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Log messages of the WeCom ASP.NET Core package (event ids 6200-6299).</summary>
internal static partial class Log
{
    [LoggerMessage(6200, LogLevel.Error, "WeCom suite '{SuiteName}': a verified push could not be handled; answered 503 so WeCom pushes it again.")]
    public static partial void EventFailed(ILogger logger, Exception error, string suiteName);
}
