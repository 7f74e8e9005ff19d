using System.Text;
using BackgroundCache.AspNetCore;
using BackgroundCache.WeChat;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps the event URL (授权事件接收URL) of a WeChat Open Platform third-party platform registered with
/// <c>AddWeChatOpenPlatform</c>.
/// </summary>
public static class WeChatOpenPlatformEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST <paramref name="pattern"/></c> as the event URL of the platform <paramref name="name"/>. Each push is
    /// verified (<c>msg_signature</c> with the platform's Token), decrypted (EncodingAESKey) and checked to be sealed for the
    /// platform's AppId, then handled: <c>component_verify_ticket</c> stored (the component token fetched at once when there
    /// is none), <c>authorized</c>/<c>updateauthorized</c> exchanged and added, <c>unauthorized</c> removed. A valid push is
    /// answered with the plain text <c>success</c>; a forged, foreign or malformed one with 400, 401 or 403 and nothing
    /// stored; a body over 64 KiB with 413; a valid authorization push whose code could not be exchanged with 503, so WeChat
    /// pushes it again.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern, e.g. <c>/wechat/open/events</c>: the URL set in the Open Platform console.</param>
    /// <param name="name">The platform's name given to <c>AddWeChatOpenPlatform</c>.</param>
    /// <returns>The endpoint's convention builder (add rate limiting or filters to it).</returns>
    public static IEndpointConventionBuilder MapWeChatOpenPlatformEvents(this IEndpointRouteBuilder endpoints, string pattern, string name)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(name);

        // Fails at mapping time, not at the first push, when the platform is not registered.
        var platform = endpoints.ServiceProvider.GetKeyedService<WeChatOpenPlatform>(name)
            ?? throw new InvalidOperationException($"No WeChat Open Platform named '{name}' is registered: call services.AddWeChatOpenPlatform(\"{name}\", …) first.");
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeChat.AspNetCore");
        return endpoints.MapPost(pattern, async context => await (await HandleAsync(context, platform, logger).ConfigureAwait(false)).ExecuteAsync(context).ConfigureAwait(false))
            .WithDisplayName($"WeChat Open Platform events ({name})")
            .DisableAntiforgery();
    }

    private static async Task<IResult> HandleAsync(HttpContext context, WeChatOpenPlatform platform, ILogger logger)
    {
        var body = await EventRequestBody.ReadAsync(context, WeChatOpenPlatform.MaxEventBodyBytes).ConfigureAwait(false);
        if (body is null)
        {
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        }

        var query = context.Request.Query;
        try
        {
            await platform.HandleEventAsync(
                query["msg_signature"].ToString(),
                query["timestamp"].ToString(),
                query["nonce"].ToString(),
                body,
                context.RequestAborted).ConfigureAwait(false);
        }
        catch (WeChatEventRejectedException ex)
        {
            return Results.Text(ex.Reason.ToString(), "text/plain", Encoding.UTF8, ex.Reason switch
            {
                WeChatEventRejection.InvalidSignature => StatusCodes.Status401Unauthorized,
                WeChatEventRejection.WrongAppId => StatusCodes.Status403Forbidden,
                _ => StatusCodes.Status400BadRequest,
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            Log.EventFailed(logger, ex, platform.Name);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }

        return Results.Text("success", "text/plain", Encoding.UTF8);
    }
}
