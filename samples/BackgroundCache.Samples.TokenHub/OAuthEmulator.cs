using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace BackgroundCache.Samples.TokenHub;

/// <summary>
/// A small OAuth 2.0 client credentials token endpoint (RFC 6749 §4.4) on loopback, for the sample's offline Development
/// configuration and the hub's tests: <c>POST /token</c> with <c>grant_type=client_credentials</c> and the client's id and
/// secret (HTTP Basic, form-encoded first as §2.3.1 says, or in the body) answers a random bearer token for an hour;
/// a wrong client is <c>401 invalid_client</c>. Not an authorization server (no scopes, no signing): OpenIddict, which the
/// OAuth package's tests use, would pull a database and a dozen packages into a sample that should start on a fresh machine.
/// </summary>
public sealed class OAuthEmulator : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    private OAuthEmulator(WebApplication app) => _app = app;

    /// <summary>Gets the token endpoint's address.</summary>
    public Uri TokenEndpoint { get; private set; } = null!;

    /// <summary>Gets the number of tokens issued to <paramref name="clientId"/>.</summary>
    public int TokenCalls(string clientId) => _calls.GetValueOrDefault(clientId);

    /// <summary>Gets the total number of tokens issued.</summary>
    public int TotalTokenCalls => _calls.Values.Sum();

    /// <summary>Starts the endpoint on 127.0.0.1 (port 0: any free port).</summary>
    public static async Task<OAuthEmulator> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var emulator = new OAuthEmulator(app);
        app.MapPost("/token", (Delegate)emulator.IssueAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        emulator.TokenEndpoint = new Uri(address.TrimEnd('/') + "/token");
        return emulator;
    }

    /// <summary>Registers a client the endpoint issues tokens to.</summary>
    public void AddClient(string clientId, string clientSecret) => _clients[clientId] = clientSecret;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task<IResult> IssueAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var (id, secret) = Credentials(context.Request, form);
        if (form["grant_type"] != "client_credentials")
        {
            return Results.Json(new { error = "unsupported_grant_type" }, statusCode: StatusCodes.Status400BadRequest);
        }

        if (id is null || !_clients.TryGetValue(id, out var expected) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(secret ?? string.Empty)))
        {
            return Results.Json(new { error = "invalid_client" }, statusCode: StatusCodes.Status401Unauthorized);
        }

        _calls.AddOrUpdate(id, 1, (_, n) => n + 1);
        return Results.Json(new Dictionary<string, object>
        {
            ["access_token"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)),
            ["token_type"] = "Bearer",
            ["expires_in"] = 3600,
        });
    }

    private static (string? Id, string? Secret) Credentials(HttpRequest request, IFormCollection form)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = pair.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? (null, null) : (WebUtility.UrlDecode(pair[..colon]), WebUtility.UrlDecode(pair[(colon + 1)..]));
        }

        return (form["client_id"].ToString(), form["client_secret"].ToString());
    }
}
