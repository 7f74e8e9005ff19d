using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BackgroundCache.OAuth.Tests;

/// <summary>
/// A hand-written token endpoint and API on Kestrel loopback for the answers a real server never gives (HTML, 429 with
/// Retry-After, no expires_in) and for the handler's retry rules. Each behaviour is a delegate a test sets.
/// </summary>
internal sealed class FakeIssuer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _tokenRequests;
    private int _apiCalls;

    private FakeIssuer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public Uri TokenEndpoint => new(BaseAddress, "token");

    public int TokenRequests => Volatile.Read(ref _tokenRequests);

    public int ApiCalls => Volatile.Read(ref _apiCalls);

    public ConcurrentQueue<string?> AuthorizationHeaders { get; } = new();

    public ConcurrentQueue<string> ApiBodies { get; } = new();

    public ConcurrentQueue<string> TokenBodies { get; } = new();

    /// <summary>Answers the n-th token request (1-based); the default issues "token-n" for an hour.</summary>
    public Func<int, HttpContext, Task> Token { get; set; } = (n, context) => context.Response.WriteAsJsonAsync(new { access_token = $"token-{n}", token_type = "Bearer", expires_in = 3600 });

    /// <summary>Answers an API call; the default accepts any bearer token.</summary>
    public Func<HttpContext, Task> Api { get; set; } = _ => Task.CompletedTask;

    public static async Task<FakeIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        FakeIssuer? issuer = null;
        app.MapPost("/token", async context =>
        {
            issuer!.AuthorizationHeaders.Enqueue(context.Request.Headers.Authorization.ToString());
            using (var reader = new StreamReader(context.Request.Body))
            {
                issuer.TokenBodies.Enqueue(await reader.ReadToEndAsync());
            }

            await issuer.Token(Interlocked.Increment(ref issuer._tokenRequests), context);
        });
        app.Map("/api/{**rest}", async context =>
        {
            Interlocked.Increment(ref issuer!._apiCalls);
            using var reader = new StreamReader(context.Request.Body);
            issuer.ApiBodies.Enqueue(await reader.ReadToEndAsync());
            await issuer.Api(context);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        issuer = new FakeIssuer(app, new Uri(address.TrimEnd('/') + "/"));
        return issuer;
    }

    public static Task RejectAsInvalidToken(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\", error_description=\"The token expired\"";
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
