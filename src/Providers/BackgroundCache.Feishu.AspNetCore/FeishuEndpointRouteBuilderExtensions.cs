using System.Text;
using BackgroundCache.Feishu;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the event URL (事件请求地址) of a Feishu/Lark store app registered with <c>AddFeishuStoreApp</c>.</summary>
public static partial class FeishuEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST <paramref name="pattern"/></c> as the event URL of the store app <paramref name="name"/>. Each push is
    /// checked (<c>X-Lark-Signature</c> when an Encrypt Key is configured), decrypted, checked for the Verification Token and
    /// the App ID, then handled: <c>url_verification</c> answered with <c>{"challenge": …}</c>, <c>app_ticket</c> stored (the
    /// <c>app_access_token</c> fetched at once when there is none); other events acknowledged with <c>{}</c>. A forged or
    /// foreign push is answered 401 or 403, a malformed one 400, a body over 64 KiB 413, and nothing is stored; a failure
    /// to store answers 503 so Feishu pushes again.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern, e.g. <c>/feishu/events</c>: the URL set in the developer console.</param>
    /// <param name="name">The store app's name given to <c>AddFeishuStoreApp</c>.</param>
    /// <returns>The endpoint's convention builder.</returns>
    public static IEndpointConventionBuilder MapFeishuEvents(this IEndpointRouteBuilder endpoints, string pattern, string name)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(name);
        var app = endpoints.ServiceProvider.GetKeyedService<FeishuStoreApp>(name)
            ?? throw new InvalidOperationException($"No Feishu store app named '{name}' is registered: call services.AddFeishuStoreApp(\"{name}\", …) first.");
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.Feishu.AspNetCore");
        return endpoints.MapPost(pattern, async context => await (await HandleAsync(context, app, logger).ConfigureAwait(false)).ExecuteAsync(context).ConfigureAwait(false))
            .WithDisplayName($"Feishu events ({name})")
            .DisableAntiforgery();
    }

    private static async Task<IResult> HandleAsync(HttpContext context, FeishuStoreApp app, ILogger logger)
    {
        var request = context.Request;
        if (request.ContentLength is > FeishuStoreApp.MaxEventBodyBytes)
        {
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = FeishuStoreApp.MaxEventBodyBytes;
        }

        string body;
        try
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            body = await reader.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        }

        var headers = request.Headers;
        FeishuEvent handled;
        try
        {
            handled = await app.HandleEventAsync(
                body,
                headers["X-Lark-Request-Timestamp"].ToString(),
                headers["X-Lark-Request-Nonce"].ToString(),
                headers["X-Lark-Signature"].ToString(),
                context.RequestAborted).ConfigureAwait(false);
        }
        catch (FeishuEventRejectedException ex)
        {
            return Results.Text(ex.Reason.ToString(), "text/plain", Encoding.UTF8, ex.Reason switch
            {
                FeishuEventRejection.InvalidSignature or FeishuEventRejection.InvalidVerificationToken => StatusCodes.Status401Unauthorized,
                FeishuEventRejection.WrongApp => StatusCodes.Status403Forbidden,
                _ => StatusCodes.Status400BadRequest,
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            EventFailed(logger, ex, app.Name);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }

        return handled.Challenge is { } challenge
            ? Results.Json(new Dictionary<string, string> { ["challenge"] = challenge })
            : Results.Json(new Dictionary<string, string>());
    }

    [LoggerMessage(4390, LogLevel.Error, "Feishu store app '{Name}': a push could not be handled; answered 503 so Feishu pushes it again.")]
    private static partial void EventFailed(ILogger logger, Exception error, string name);
}
