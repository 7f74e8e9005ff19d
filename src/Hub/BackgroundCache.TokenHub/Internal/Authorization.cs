using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace BackgroundCache.TokenHub.Internal;

/// <summary>The hub's authorization policies.</summary>
internal static class TokenHubPolicies
{
    /// <summary>An authenticated client that may read the app named by the route's <c>{name}</c>.</summary>
    public const string App = "BackgroundCache.TokenHub.App";

    /// <summary>The status page and <c>/health</c>: anybody, or any client when <c>RequireApiKeyForStatus</c> is set.</summary>
    public const string Status = "BackgroundCache.TokenHub.Status";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(App, p => p
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()
            .AddRequirements(new AppAccessRequirement()));
        options.AddPolicy(Status, p => p
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .AddRequirements(new StatusAccessRequirement()));
    }
}

internal sealed class AppAccessRequirement : IAuthorizationRequirement;

internal sealed class StatusAccessRequirement : IAuthorizationRequirement;

/// <summary>
/// Allows a client the apps listed for it. An unknown app is let through, so the endpoint answers 404 (after the key was
/// checked: a caller without a valid key learns nothing about which apps exist).
/// </summary>
internal sealed class AppAccessHandler(ClientKeyTable clients, TokenHubRegistry registry) : AuthorizationHandler<AppAccessRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AppAccessRequirement requirement)
    {
        var client = context.User.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        var app = (context.Resource as HttpContext)?.Request.RouteValues["name"] as string;
        if (client is not null && app is not null && (!registry.IsApp(app) || clients.MayRead(client, app)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

internal sealed class StatusAccessHandler(IOptions<TokenHubServerOptions> options) : AuthorizationHandler<StatusAccessRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, StatusAccessRequirement requirement)
    {
        if (!options.Value.RequireApiKeyForStatus
            || context.User.Identities.Any(i => i.IsAuthenticated && i.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
