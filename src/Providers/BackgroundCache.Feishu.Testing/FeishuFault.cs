using System.Text;
using Microsoft.AspNetCore.Http;

namespace BackgroundCache.Feishu.Testing;

/// <summary>A misbehaviour that <see cref="FeishuEmulator.InjectFault(FeishuFault, int)"/> makes the token endpoints show.</summary>
public sealed class FeishuFault
{
    private FeishuFault(string description, Func<HttpContext, Task> apply)
    {
        Description = description;
        Apply = apply;
    }

    /// <summary>Gets a description of the fault.</summary>
    public string Description { get; }

    internal Func<HttpContext, Task> Apply { get; }

    /// <summary>Answers <c>{"code": code, "msg": message}</c> with an HTTP status (Feishu's auth errors come with 400 mostly).</summary>
    /// <param name="code">The code.</param>
    /// <param name="message">The msg.</param>
    /// <param name="statusCode">The HTTP status.</param>
    /// <returns>The fault.</returns>
    public static FeishuFault Error(int code, string message = "injected error", int statusCode = StatusCodes.Status400BadRequest) =>
        new($"code {code}", ctx => FeishuEmulator.WriteErrorAsync(ctx, statusCode, code, message));

    /// <summary>
    /// Answers Feishu's rate limit: HTTP 429 (or 400 for older APIs), <c>x-ogw-ratelimit-reset</c> and code 99991400.
    /// </summary>
    /// <param name="resetSeconds">The seconds in <c>x-ogw-ratelimit-reset</c>.</param>
    /// <param name="statusCode">The HTTP status: 429, or 400 as older APIs answer.</param>
    /// <returns>The fault.</returns>
    public static FeishuFault RateLimited(int resetSeconds = 52, int statusCode = StatusCodes.Status429TooManyRequests) =>
        new($"rate limited {resetSeconds} s", ctx => FeishuEmulator.WriteRateLimitAsync(ctx, statusCode, resetSeconds));

    /// <summary>Answers an HTTP status with an empty body.</summary>
    /// <param name="statusCode">The status code.</param>
    /// <returns>The fault.</returns>
    public static FeishuFault Status(int statusCode) => new($"HTTP {statusCode}", ctx =>
    {
        ctx.Response.StatusCode = statusCode;
        return Task.CompletedTask;
    });

    /// <summary>Answers HTTP 502 with an HTML page, as a gateway does.</summary>
    /// <returns>The fault.</returns>
    public static FeishuFault HtmlPage() => new("HTML page", ctx => Write(ctx, StatusCodes.Status502BadGateway, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"));

    /// <summary>Answers HTTP 200 with a truncated JSON body.</summary>
    /// <returns>The fault.</returns>
    public static FeishuFault MalformedJson() => new("malformed JSON", ctx => Write(ctx, StatusCodes.Status200OK, "application/json", "{\"code\":0,\"tenant_access_token\":\"t-"));

    /// <summary>Answers HTTP 200 with <c>code: 0</c> but no token.</summary>
    /// <returns>The fault.</returns>
    public static FeishuFault MissingToken() => new("no token", ctx => Write(ctx, StatusCodes.Status200OK, "application/json", "{\"code\":0,\"msg\":\"ok\"}"));

    private static Task Write(HttpContext ctx, int status, string contentType, string body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = contentType + "; charset=utf-8";
        return ctx.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(body)).AsTask();
    }
}
