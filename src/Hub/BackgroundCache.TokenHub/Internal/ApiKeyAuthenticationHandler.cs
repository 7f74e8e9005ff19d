using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>
/// The hub's authentication scheme: a client's API key in the configured header (or, for people opening the status page
/// in a browser, as the password of HTTP Basic authentication). Runs in the authorization middleware, before any endpoint
/// reads a request body.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ClientKeyTable clients) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "BackgroundCache.TokenHub.ApiKey";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Request.Headers[clients.Header].ToString();
        if (presented.Length == 0)
        {
            presented = BasicPassword(Request.Headers.Authorization.ToString()) ?? string.Empty;
        }

        if (presented.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (clients.FindClient(presented) is not { } client)
        {
            return Task.FromResult(AuthenticateResult.Fail("The API key is not a key of any configured client."));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, client), new Claim(ClaimTypes.Name, client)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.CacheControl = "no-store";
        var status = Context.GetEndpoint()?.Metadata.GetMetadata<TokenHubStatusEndpoint>() is not null;

        // A browser opening the status page gets a login prompt (any client id, the key as password).
        Response.Headers.WWWAuthenticate = status ? "Basic realm=\"token hub\", charset=\"UTF-8\"" : $"ApiKey header=\"{clients.Header}\"";
        return Response.WriteAsJsonAsync(
            new ErrorAnswer("invalid_api_key", $"Send a configured client's API key in the {clients.Header} header."),
            TokenHubJsonContext.Default.ErrorAnswer);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        Response.Headers.CacheControl = "no-store";
        var client = Context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "?";
        var app = Context.Request.RouteValues["name"] as string ?? string.Empty;
        return Response.WriteAsJsonAsync(
            new ErrorAnswer("app_not_allowed", $"Client '{client}' may not read app '{app}' (TokenHub:Clients:{client}:Apps).", app),
            TokenHubJsonContext.Default.ErrorAnswer);
    }

    private static string? BasicPassword(string authorization)
    {
        if (!AuthenticationHeaderValue.TryParse(authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase)
            || string.IsNullOrEmpty(header.Parameter) || header.Parameter.Length > 1024)
        {
            return null;
        }

        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : text[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>Marks the status page and <c>/health</c>, whose challenge is a browser login prompt.</summary>
internal sealed class TokenHubStatusEndpoint;
