using System.Text;
using BackgroundCache.AspNetCore;
using BackgroundCache.WeCom;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the instruction URL (指令回调URL) of a WeCom suite registered with <c>AddWeComSuite</c>.</summary>
public static class WeComSuiteEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <paramref name="pattern"/> as the instruction URL of the suite <paramref name="name"/>. <c>GET</c> answers WeCom's
    /// URL check (the decrypted <c>echostr</c>). <c>POST</c> pushes are verified (<c>msg_signature</c> with the suite's
    /// Token), decrypted (EncodingAESKey), checked to be sealed for the SuiteId, then handled: <c>suite_ticket</c> stored
    /// (the suite token fetched at once when there is none), <c>create_auth</c> exchanged for a permanent code and the corp
    /// added, <c>change_auth</c> refreshed, <c>cancel_auth</c> removed. A valid push is answered <c>success</c>; a forged,
    /// foreign or malformed one 400, 401 or 403 with nothing stored; a body over 64 KiB 413; a valid push that could not be
    /// handled (the code exchange failed) 503, so WeCom pushes it again.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern, e.g. <c>/wecom/suite/events</c>: the URL set in the WeCom console.</param>
    /// <param name="name">The suite's name given to <c>AddWeComSuite</c>.</param>
    /// <returns>The endpoints' convention builder (add rate limiting or filters to it).</returns>
    public static IEndpointConventionBuilder MapWeComSuiteEvents(this IEndpointRouteBuilder endpoints, string pattern, string name)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(name);
        var suite = endpoints.ServiceProvider.GetKeyedService<WeComSuite>(name)
            ?? throw new InvalidOperationException($"No WeCom suite named '{name}' is registered: call services.AddWeComSuite(\"{name}\", …) first.");
        var logger = endpoints.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeCom.AspNetCore");
        return endpoints.MapMethods(pattern, [HttpMethods.Get, HttpMethods.Post], async context =>
            {
                var result = HttpMethods.IsGet(context.Request.Method) ? VerifyUrl(context, suite) : await HandleAsync(context, suite, logger).ConfigureAwait(false);
                await result.ExecuteAsync(context).ConfigureAwait(false);
            })
            .WithDisplayName($"WeCom suite events ({name})")
            .DisableAntiforgery();
    }

    private static IResult VerifyUrl(HttpContext context, WeComSuite suite)
    {
        var query = context.Request.Query;
        try
        {
            var echo = suite.VerifyUrl(query["msg_signature"].ToString(), query["timestamp"].ToString(), query["nonce"].ToString(), query["echostr"].ToString());
            return Results.Text(echo, "text/plain", Encoding.UTF8);
        }
        catch (WeComEventRejectedException ex)
        {
            return Rejected(ex);
        }
    }

    private static async Task<IResult> HandleAsync(HttpContext context, WeComSuite suite, ILogger logger)
    {
        var body = await EventRequestBody.ReadAsync(context, WeComSuite.MaxEventBodyBytes).ConfigureAwait(false);
        if (body is null)
        {
            return Results.StatusCode(StatusCodes.Status413PayloadTooLarge);
        }

        var query = context.Request.Query;
        try
        {
            await suite.HandleEventAsync(query["msg_signature"].ToString(), query["timestamp"].ToString(), query["nonce"].ToString(), body, context.RequestAborted).ConfigureAwait(false);
        }
        catch (WeComEventRejectedException ex)
        {
            return Rejected(ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            Log.EventFailed(logger, ex, suite.Name);
            return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
        }

        return Results.Text("success", "text/plain", Encoding.UTF8);
    }

    private static IResult Rejected(WeComEventRejectedException ex) => Results.Text(ex.Reason.ToString(), "text/plain", Encoding.UTF8, ex.Reason switch
    {
        WeComEventRejection.InvalidSignature => StatusCodes.Status401Unauthorized,
        WeComEventRejection.WrongSuite => StatusCodes.Status403Forbidden,
        _ => StatusCodes.Status400BadRequest,
    });
}
