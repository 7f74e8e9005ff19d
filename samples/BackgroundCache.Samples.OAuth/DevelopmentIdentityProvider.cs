using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using OpenIddict.Validation.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace BackgroundCache.Samples.OAuth;

/// <summary>
/// The sample's identity provider in Development, and the OAuth tests' authorization server: a real OpenIddict server
/// (client credentials, scopes, resource indicators, client_secret_basic, client_secret_post and private_key_jwt) and an
/// invoices API it protects, in-process on Kestrel at 127.0.0.1 (a dynamic port unless one is given), on its own
/// <see cref="TimeProvider"/> (so a test can make the API see a token as expired). Never a production identity provider:
/// ephemeral keys, an in-memory store, plain HTTP.
/// </summary>
public sealed class DevelopmentIdentityProvider : IAsyncDisposable
{
    public const string SecretClientId = "billing-service";
    public const string ClientSecret = "s3cr3t +:%/&= do-not-print";
    public const string JwtClientId = "jwt-service";
    public const string EcJwtClientId = "ec-jwt-service";
    public const string Scope = "invoices.read";
    public const string Resource = "https://billing.example.com/";

    private readonly WebApplication _app;
    private int _tokenRequests;
    private int _apiCalls;

    private DevelopmentIdentityProvider(WebApplication app, Uri baseAddress, RSA rsa, ECDsa ec)
    {
        _app = app;
        BaseAddress = baseAddress;
        RsaKey = rsa;
        EcKey = ec;
    }

    public Uri BaseAddress { get; }

    public Uri TokenEndpoint => new(BaseAddress, "connect/token");

    public RSA RsaKey { get; }

    public ECDsa EcKey { get; }

    public int TokenRequests => Volatile.Read(ref _tokenRequests);

    public int ApiCalls => Volatile.Read(ref _apiCalls);

    public static async Task<DevelopmentIdentityProvider> StartAsync(TimeProvider? time = null, int port = 0)
    {
        time ??= TimeProvider.System;
        var rsa = RSA.Create(2048);
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var database = Guid.NewGuid().ToString("N");
        builder.Services.AddDbContext<DbContext>(o =>
        {
            o.UseInMemoryDatabase(database);
            o.UseOpenIddict();
        });
        builder.Services.AddOpenIddict()
            .AddCore(o =>
            {
                o.UseEntityFrameworkCore().UseDbContext<DbContext>();
                o.Configure(c => c.TimeProvider = time);
            })
            .AddServer(o =>
            {
                o.SetTokenEndpointUris("connect/token");
                o.AllowClientCredentialsFlow();
                o.RegisterScopes(Scope);
                o.RegisterResources(Resource);
                o.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
                o.DisableAccessTokenEncryption();
                o.SetAccessTokenLifetime(TimeSpan.FromHours(1));
                o.Configure(c => c.TimeProvider = time);
                o.UseAspNetCore().EnableTokenEndpointPassthrough().DisableTransportSecurityRequirement();
            })
            .AddValidation(o =>
            {
                o.UseLocalServer();
                o.EnableTokenEntryValidation();
                o.Configure(c => c.TimeProvider = time);
                o.UseAspNetCore();
            });
        builder.Services.AddAuthentication(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme);
        builder.Services.AddAuthorization();

        var app = builder.Build();
        DevelopmentIdentityProvider? server = null;
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/connect/token", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref server!._tokenRequests);
            }

            await next(context);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapPost("/connect/token", (HttpContext context) =>
        {
            var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("Not an OpenID Connect request.");
            var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, request.ClientId);
            identity.SetScopes(request.GetScopes());
            identity.SetResources(request.GetResources());
            identity.SetDestinations(_ => [Destinations.AccessToken]);
            return Results.SignIn(new ClaimsPrincipal(identity), authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        });
        app.MapGet("/api/invoices", (HttpContext context) =>
        {
            Interlocked.Increment(ref server!._apiCalls);
            return Results.Ok(new { client = context.User.FindFirst(Claims.Subject)?.Value, scope = context.User.FindFirst(Claims.Private.Scope)?.Value });
        }).RequireAuthorization();
        app.MapPost("/api/invoices", async (HttpContext context) =>
        {
            Interlocked.Increment(ref server!._apiCalls);
            using var reader = new StreamReader(context.Request.Body);
            return Results.Text(await reader.ReadToEndAsync());
        }).RequireAuthorization();

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new DevelopmentIdentityProvider(app, new Uri(address.TrimEnd('/') + "/"), rsa, ec);
        await server.SeedAsync();
        return server;
    }

    /// <summary>Revokes every token issued to <paramref name="clientId"/>, as an administrator would.</summary>
    public async Task<long> RevokeTokensAsync(string clientId)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var tokens = scope.ServiceProvider.GetRequiredService<IOpenIddictTokenManager>();
        long revoked = 0;
        await foreach (var token in tokens.FindBySubjectAsync(clientId))
        {
            if (await tokens.TryRevokeAsync(token))
            {
                revoked++;
            }
        }

        return revoked;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        RsaKey.Dispose();
        EcKey.Dispose();
    }

    private async Task SeedAsync()
    {
        await using var scope = _app.Services.CreateAsyncScope();
        var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
        await applications.CreateAsync(Describe(SecretClientId, d => d.ClientSecret = ClientSecret));
        await applications.CreateAsync(Describe(JwtClientId, d => d.JsonWebKeySet = KeySet(JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(RsaKey.ExportParameters(false))))));
        await applications.CreateAsync(Describe(EcJwtClientId, d => d.JsonWebKeySet = KeySet(JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(EcKey.ExportParameters(false)))))));

        static OpenIddictApplicationDescriptor Describe(string clientId, Action<OpenIddictApplicationDescriptor> credentials)
        {
            var descriptor = new OpenIddictApplicationDescriptor
            {
                ClientId = clientId,
                ClientType = ClientTypes.Confidential,
                Permissions =
                {
                    Permissions.Endpoints.Token,
                    Permissions.GrantTypes.ClientCredentials,
                    Permissions.Prefixes.Scope + Scope,
                    Permissions.Prefixes.Resource + Resource,
                },
            };
            credentials(descriptor);
            return descriptor;
        }

        static JsonWebKeySet KeySet(JsonWebKey key)
        {
            var set = new JsonWebKeySet();
            set.Keys.Add(key);
            return set;
        }
    }
}
