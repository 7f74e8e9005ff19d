using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeCom.Testing;

/// <summary>A misbehaviour a <see cref="WeComEmulator"/> plays on the next token calls (<see cref="WeComEmulator.InjectFault"/>).</summary>
public sealed class WeComFault
{
    private WeComFault(string description, Func<HttpContext, Task> apply)
    {
        Description = description;
        Apply = apply;
    }

    /// <summary>Gets a description of the fault.</summary>
    public string Description { get; }

    internal Func<HttpContext, Task> Apply { get; }

    /// <summary>Answers HTTP 200 with <c>{"errcode": code, "errmsg": message}</c>, as WeCom does.</summary>
    /// <param name="errorCode">The errcode.</param>
    /// <param name="errorMessage">The errmsg.</param>
    /// <returns>The fault.</returns>
    public static WeComFault Error(int errorCode, string errorMessage = "injected error") =>
        new($"errcode {errorCode}", ctx => WeComEmulator.WriteErrorAsync(ctx, errorCode, errorMessage));

    /// <summary>Answers with an HTTP status and no body.</summary>
    /// <param name="statusCode">The status code.</param>
    /// <returns>The fault.</returns>
    public static WeComFault HttpStatus(int statusCode) => new($"HTTP {statusCode}", ctx =>
    {
        ctx.Response.StatusCode = statusCode;
        return Task.CompletedTask;
    });

    /// <summary>Answers a gateway's HTML error page (HTTP 200, text/html), as a misconfigured proxy does.</summary>
    /// <returns>The fault.</returns>
    public static WeComFault HtmlPage() => new("HTML page", ctx =>
    {
        ctx.Response.ContentType = "text/html; charset=utf-8";
        return ctx.Response.WriteAsync("<!DOCTYPE html><html><body><h1>Gateway error</h1></body></html>");
    });

    /// <summary>Answers a truncated JSON body.</summary>
    /// <returns>The fault.</returns>
    public static WeComFault MalformedJson() => Body("{\"errcode\":0,\"access_token\":\"tok", "malformed JSON");

    /// <summary>Answers a given JSON body.</summary>
    /// <param name="body">The body.</param>
    /// <param name="description">A description.</param>
    /// <returns>The fault.</returns>
    public static WeComFault Body(string body, string? description = null) => new(description ?? "custom body", ctx =>
    {
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(body);
    });

    /// <summary>Drops the connection without an answer.</summary>
    /// <returns>The fault.</returns>
    public static WeComFault ConnectionReset() => new("connection reset", ctx =>
    {
        ctx.Abort();
        return Task.CompletedTask;
    });
}
