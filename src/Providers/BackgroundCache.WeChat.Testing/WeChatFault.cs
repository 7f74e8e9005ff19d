using Microsoft.AspNetCore.Http;

namespace BackgroundCache.WeChat.Testing;

/// <summary>
/// A misbehaviour that <see cref="WeChatEmulator.InjectFault(WeChatFault, int)"/> makes the token endpoints show.
/// </summary>
public sealed class WeChatFault
{
    private WeChatFault(string description, Func<HttpContext, Task> apply, TimeSpan? delay = null)
    {
        Description = description;
        Apply = apply;
        DelayBeforeAnswer = delay;
    }

    /// <summary>Gets a description of the fault.</summary>
    public string Description { get; }

    internal Func<HttpContext, Task> Apply { get; }

    /// <summary>Gets the delay before a normal answer, for <see cref="Delay(TimeSpan)"/>; null for the other faults.</summary>
    internal TimeSpan? DelayBeforeAnswer { get; }

    /// <summary>
    /// Answers normally, but only after <paramref name="delay"/> has passed on the emulator's clock (a slow upstream;
    /// with a fake clock, the answer comes when the test advances it).
    /// </summary>
    /// <param name="delay">How long to wait before answering.</param>
    /// <returns>The fault.</returns>
    public static WeChatFault Delay(TimeSpan delay) => new($"delay {delay}", _ => Task.CompletedTask, delay);

    /// <summary>Answers HTTP 200 with <c>{"errcode": code, "errmsg": message}</c>.</summary>
    /// <param name="errorCode">The errcode.</param>
    /// <param name="errorMessage">The errmsg (WeChat appends a request id).</param>
    /// <returns>The fault.</returns>
    public static WeChatFault Error(int errorCode, string errorMessage = "injected error") =>
        new($"errcode {errorCode}", ctx => WeChatEmulator.WriteErrorAsync(ctx, errorCode, errorMessage));

    /// <summary>Answers with an HTTP status code and an empty body.</summary>
    /// <param name="statusCode">The status code, e.g. 502.</param>
    /// <returns>The fault.</returns>
    public static WeChatFault HttpStatus(int statusCode) => new($"HTTP {statusCode}", ctx =>
    {
        ctx.Response.StatusCode = statusCode;
        return Task.CompletedTask;
    });

    /// <summary>Answers HTTP 200 with a JSON body cut short.</summary>
    /// <returns>The fault.</returns>
    public static WeChatFault MalformedJson() => Body("{\"access_token\":\"80_abc", "malformed JSON");

    /// <summary>Answers HTTP 502 with an HTML error page, as a proxy in front of the API does.</summary>
    /// <returns>The fault.</returns>
    public static WeChatFault HtmlErrorPage() => new("HTML error page", async ctx =>
    {
        ctx.Response.StatusCode = StatusCodes.Status502BadGateway;
        ctx.Response.ContentType = "text/html";
        await ctx.Response.WriteAsync("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>").ConfigureAwait(false);
    });

    /// <summary>Answers HTTP 200 with this exact body (JSON content type).</summary>
    /// <param name="body">The body.</param>
    /// <param name="description">A description for diagnostics.</param>
    /// <returns>The fault.</returns>
    public static WeChatFault Body(string body, string? description = null) => new(description ?? "custom body", async ctx =>
    {
        ctx.Response.ContentType = "application/json; encoding=utf-8";
        await ctx.Response.WriteAsync(body).ConfigureAwait(false);
    });

    /// <summary>
    /// Answers HTTP 200 with these exact bytes (JSON content type), for answers a string cannot carry: invalid UTF-8, a
    /// byte-order mark, binary garbage.
    /// </summary>
    /// <param name="body">The body's bytes.</param>
    /// <param name="description">A description for diagnostics.</param>
    /// <returns>The fault.</returns>
    public static WeChatFault RawBody(byte[] body, string? description = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        var copy = (byte[])body.Clone();
        return new(description ?? $"raw body of {copy.Length} bytes", async ctx =>
        {
            ctx.Response.ContentType = "application/json; encoding=utf-8";
            await ctx.Response.Body.WriteAsync(copy).ConfigureAwait(false);
        });
    }

    /// <summary>Never answers: the request hangs until the client gives up.</summary>
    /// <returns>The fault.</returns>
    public static WeChatFault Hang() => new("hang", async ctx =>
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (ctx.RequestAborted.Register(() => aborted.TrySetResult()))
        {
            await aborted.Task.ConfigureAwait(false); // until the client gives up
        }
    });

    /// <summary>Resets the connection without an answer.</summary>
    /// <returns>The fault.</returns>
    public static WeChatFault ConnectionReset() => new("connection reset", ctx =>
    {
        ctx.Abort();
        return Task.CompletedTask;
    });
}
