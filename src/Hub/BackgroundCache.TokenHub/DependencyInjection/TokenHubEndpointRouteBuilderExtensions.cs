using BackgroundCache.TokenHub.Internal;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// Maps the token hub's endpoints; add its services first with <c>services.AddTokenHub(section)</c>.
/// </summary>
public static class TokenHubEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the token hub: <c>GET tokens/{name}</c>, <c>POST tokens/{name}/invalidate</c>, <c>GET tickets/{name}</c> and
    /// <c>GET tokens/{name}/authorizers/{appid}</c> (an Open Platform app's authorizers) for
    /// clients with an API key that may read the app (401 without a valid key, 403 for another client's app, 404 for an
    /// unknown app, 429 over the invalidation limit); <c>GET health</c>, the status page <c>GET /</c> and its data
    /// <c>GET status.json</c> (a client's key too, when <c>RequireApiKeyForStatus</c> is set). Map it on a group
    /// (<c>app.MapGroup("/hub").MapTokenHub()</c>) to put it under a path. An Open Platform app also gets its event URL,
    /// <c>POST events/{name}</c>, for WeChat's pushes (verified by the platform's Token and EncodingAESKey, no API key).
    /// </summary>
    /// <param name="endpoints">The <see cref="IEndpointRouteBuilder"/> to add the endpoints to.</param>
    /// <returns>An <see cref="IEndpointConventionBuilder"/> for further conventions on every hub endpoint.</returns>
    /// <exception cref="InvalidOperationException"><c>AddTokenHub</c> was not called.</exception>
    public static IEndpointConventionBuilder MapTokenHub(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<TokenHubRegistry>() is not { } registry)
        {
            throw new InvalidOperationException("Call services.AddTokenHub(configuration.GetSection(\"TokenHub\")) before MapTokenHub().");
        }

        var hub = endpoints.MapGroup(string.Empty);
        hub.MapGet("/tokens/{name}", new RequestDelegate(TokenHubEndpoints.GetTokenAsync)).RequireAuthorization(TokenHubPolicies.App);
        hub.MapPost("/tokens/{name}/invalidate", new RequestDelegate(TokenHubEndpoints.InvalidateAsync)).RequireAuthorization(TokenHubPolicies.App);
        hub.MapGet("/tickets/{name}", new RequestDelegate(TokenHubEndpoints.GetTicketAsync)).RequireAuthorization(TokenHubPolicies.App);
        hub.MapPost("/tickets/{name}/signature", new RequestDelegate(TokenHubEndpoints.SignAsync)).RequireAuthorization(TokenHubPolicies.App);
        hub.MapGet("/tokens/{name}/authorizers/{appid}", new RequestDelegate(TokenHubEndpoints.GetAuthorizerTokenAsync)).RequireAuthorization(TokenHubPolicies.App);
        foreach (var app in registry.AppNames.Where(a => registry.Provider(a).HasAuthorizers))
        {
            // WeChat pushes component_verify_ticket and authorizations here (checked by the platform's Token and AES key).
            hub.MapWeChatOpenPlatformEvents($"/events/{app}", app);
        }

        var status = new TokenHubStatusEndpoint();
        hub.MapHealthChecks("/health", new HealthCheckOptions
            {
                ResponseWriter = TokenHubEndpoints.WriteHealthAsync,
                Predicate = check => registry.IsHubHealthCheck(check.Name), // the hub's caches, not the rest of a host's checks
            })
            .RequireAuthorization(TokenHubPolicies.Status).WithMetadata(status);
        hub.MapGet("/", new RequestDelegate(TokenHubEndpoints.GetStatusPageAsync)).RequireAuthorization(TokenHubPolicies.Status).WithMetadata(status);
        hub.MapGet("/status.json", new RequestDelegate(TokenHubEndpoints.GetStatusAsync)).RequireAuthorization(TokenHubPolicies.Status).WithMetadata(status);
        return hub;
    }
}
