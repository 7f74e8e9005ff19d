using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenIddictServer = BackgroundCache.Samples.OAuth.DevelopmentIdentityProvider;

namespace BackgroundCache.OAuth.Tests;

/// <summary>
/// Against a real authorization server: OpenIddict 7 in-process on Kestrel loopback, with a protected API. Tests that
/// neither move its clock, count its requests nor revoke its tokens share one server.
/// </summary>
public sealed class OpenIddictTests(OpenIddictTests.SharedServer shared) : IClassFixture<OpenIddictTests.SharedServer>
{
    [Theory]
    [InlineData(ClientAuthenticationMethod.BasicHeader)]
    [InlineData(ClientAuthenticationMethod.RequestBody)]
    public async Task ClientSecret_EachMethod_GetsATokenWithScopeAndResourceThatTheApiAccepts(ClientAuthenticationMethod method)
    {
        var server = shared.Server;
        await using var client = await ClientHost.StartAsync(
            o =>
            {
                o.TokenEndpoint = server.TokenEndpoint;
                o.ClientId = OpenIddictServer.SecretClientId;
                o.ClientSecret = OpenIddictServer.ClientSecret; // "+", ":", "%", "/", "&", "=" and spaces: form-encoded before Base64
                o.ClientAuthentication = method;
                o.Scope = OpenIddictServer.Scope;
                o.Resource = OpenIddictServer.Resource;
            },
            server.BaseAddress);

        client.Cache.TryGetValue(out var token).Should().BeTrue();
        var claims = Claims(token!.Value);
        claims.GetProperty("scope").GetString().Should().Be(OpenIddictServer.Scope);
        claims.GetProperty("aud").ToString().Should().Contain(OpenIddictServer.Resource);
        (token.ExpiresAt - client.Time.GetUtcNow()).Should().BeCloseTo(TimeSpan.FromHours(1), TimeSpan.FromSeconds(5));
        using var response = await client.Api.GetAsync(new Uri("api/invoices", UriKind.Relative));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Contain(OpenIddictServer.SecretClientId);
    }

    [Theory]
    [InlineData("rsa-pem")]
    [InlineData("ec-pem")]
    [InlineData("rsa-certificate")]
    public async Task PrivateKeyJwt_PemOrCertificate_GetsATokenTheApiAccepts(string key)
    {
        var server = shared.Server;
        using var certificate = key == "rsa-certificate"
            ? new CertificateRequest("CN=jwt-service", server.RsaKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.Now.AddDays(-1), DateTimeOffset.Now.AddDays(1))
            : null;
        await using var client = await ClientHost.StartAsync(
            o =>
            {
                if (key == "rsa-pem")
                {
                    o.Authority = server.BaseAddress; // the assertion's audience is the issuer that discovery names
                }
                else
                {
                    o.TokenEndpoint = server.TokenEndpoint;
                    o.ClientAssertionAudience = server.BaseAddress.AbsoluteUri;
                }

                o.ClientId = key == "ec-pem" ? OpenIddictServer.EcJwtClientId : OpenIddictServer.JwtClientId;
                o.ClientAuthentication = ClientAuthenticationMethod.PrivateKeyJwt;
                o.PrivateKey = key switch
                {
                    "rsa-pem" => server.RsaKey.ExportPkcs8PrivateKeyPem(),
                    "ec-pem" => server.EcKey.ExportECPrivateKeyPem(),
                    _ => null,
                };
                o.Certificate = certificate;
                o.Scope = OpenIddictServer.Scope;
            },
            server.BaseAddress);

        client.Cache.Status.LastError.Should().BeNull();
        using var response = await client.Api.GetAsync(new Uri("api/invoices", UriKind.Relative));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Authority_DiscoversTheTokenEndpoint()
    {
        var server = shared.Server;
        await using var client = await ClientHost.StartAsync(
            o =>
            {
                o.Authority = server.BaseAddress;
                o.ClientId = OpenIddictServer.SecretClientId;
                o.ClientSecret = OpenIddictServer.ClientSecret;
            },
            server.BaseAddress);

        client.Cache.TryGetValue(out _).Should().BeTrue();
        client.Logs.GetSnapshot().Should().Contain(r => r.Id.Id == 4000 && r.Message.Contains(server.TokenEndpoint.AbsoluteUri, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("wrong-secret", null, null, "invalid_client")]
    [InlineData(null, "unknown.scope", null, "invalid_scope")]
    [InlineData(null, null, "https://unknown.example.com/", "invalid_target")]
    public async Task ErrorAnswers_ArePermanentTypedAndHoldNoSecret(string? secret, string? scope, string? resource, string error)
    {
        var server = shared.Server;
        await using var client = await ClientHost.StartAsync(
            o =>
            {
                o.TokenEndpoint = server.TokenEndpoint;
                o.ClientId = OpenIddictServer.SecretClientId;
                o.ClientSecret = secret ?? OpenIddictServer.ClientSecret;
                o.Scope = scope;
                o.Resource = resource;
            },
            server.BaseAddress);

        var failure = client.Cache.Status.LastError.Should().BeOfType<OAuthTokenException>().Subject;
        failure.Error.Should().Be(error);
        failure.IsTransient.Should().BeFalse();
        failure.StatusCode.Should().BeOneOf(HttpStatusCode.BadRequest, HttpStatusCode.Unauthorized);
        failure.ToString().Should().NotContain(OpenIddictServer.ClientSecret).And.NotContain("wrong-secret");
        await FluentActions.Awaiting(() => client.Cache.GetAsync().AsTask()).Should().ThrowAsync<CacheValueUnavailableException>();
        string.Join("\n", client.Logs.GetSnapshot().Select(r => r.Message + r.Exception)).Should().NotContain(OpenIddictServer.ClientSecret);
    }

    [Fact]
    public async Task Handler_TokenTheApiSeesAsExpired_IsReplacedAndTheRequestRetriedOnce()
    {
        var serverClock = ClientHost.NewClock();
        await using var server = await OpenIddictServer.StartAsync(serverClock);
        await using var client = await ClientHost.StartAsync(o => SecretClient(o, server), server.BaseAddress);
        client.Cache.TryGetValue(out var first).Should().BeTrue();

        serverClock.Advance(TimeSpan.FromHours(2)); // the API's clock says the token has expired; the client's does not
        using var response = await client.Api.GetAsync(new Uri("api/invoices", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        server.TokenRequests.Should().Be(2);
        server.ApiCalls.Should().Be(1); // the rejected call never reached the endpoint
        client.Cache.TryGetValue(out var second).Should().BeTrue();
        second.Should().NotBe(first);
    }

    [Fact]
    public async Task Handler_RevokedToken_IsReplacedAndTheRequestBodySentAgain()
    {
        await using var server = await OpenIddictServer.StartAsync(ClientHost.NewClock());
        await using var client = await ClientHost.StartAsync(o => SecretClient(o, server), server.BaseAddress);

        (await server.RevokeTokensAsync(OpenIddictServer.SecretClientId)).Should().Be(1);
        using var response = await client.Api.PostAsync(new Uri("api/invoices", UriKind.Relative), new StringContent("{\"amount\":42}"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("{\"amount\":42}");
        server.TokenRequests.Should().Be(2);
    }

    [Fact]
    public async Task SimulatedDay_OneClock_TokenCallsFollowTheLifetimeAndEveryTokenIsAccepted()
    {
        var clock = ClientHost.NewClock();
        await using var server = await OpenIddictServer.StartAsync(clock);
        await using var client = await ClientHost.StartAsync(o => SecretClient(o, server), server.BaseAddress, clock);
        var start = clock.GetUtcNow();
        var rejected = 0;

        while (clock.GetUtcNow() < start.AddDays(1))
        {
            using var response = await client.Api.GetAsync(new Uri("api/invoices", UriKind.Relative));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                rejected++;
            }

            await client.AdvanceAsync(TimeSpan.FromMinutes(20));
        }

        // A 1-hour token refreshed 5 minutes ahead (jitter up to 30 s earlier): 24 h / 55 min = 26.2, plus the first.
        server.TokenRequests.Should().BeInRange(26, 28);
        rejected.Should().Be(0);
        client.Cache.Status.ConsecutiveFailures.Should().Be(0);
    }

    [Fact]
    public async Task TokenSet_PerKeyHook_OneTokenPerAudienceFromOneRegistration()
    {
        var server = shared.Server;
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddSingleton<TimeProvider>(ClientHost.NewClock());
        builder.Services.AddClientCredentialsTokenSet<string>(
                "audiences",
                o => SecretClient(o, server),
                (audience, o) => o.Resource = audience == "billing" ? OpenIddictServer.Resource : null)
            .WithHealthCheck();
        builder.Services.AddHttpClient("api", c => c.BaseAddress = server.BaseAddress)
            .AddClientCredentialsTokenHandler<string>("audiences", _ => "billing");
        using var host = builder.Build();
        await host.StartAsync();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>("audiences");

        var billing = await set.GetAsync("billing");
        var plain = await set.GetAsync("plain");

        Claims(billing.Value).GetProperty("aud").ToString().Should().Contain(OpenIddictServer.Resource);
        Claims(plain.Value).TryGetProperty("aud", out _).Should().BeFalse();
        using var response = await host.Services.GetRequiredService<IHttpClientFactory>().CreateClient("api").GetAsync(new Uri("api/invoices", UriKind.Relative));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        await host.StopAsync();
    }

    [Fact]
    public async Task TokenSet_KeyWithWrongOptions_FailsAtOnceNamingTheSettingAndTheKey()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddClientCredentialsTokenSet<string>(
            "tenants",
            o => o.TokenEndpoint = new Uri("http://127.0.0.1:1/token"),
            (tenant, o) => o.ClientId = tenant);
        using var host = builder.Build();
        await host.StartAsync();
        var set = host.Services.GetRequiredKeyedService<IRefreshingCacheSet<string, AccessToken>>("tenants");

        var failure = await FluentActions.Awaiting(() => set.GetAsync("contoso").AsTask()).Should().ThrowAsync<CacheValueUnavailableException>();

        failure.Which.InnerException.Should().BeOfType<OAuthTokenException>().Which.Message.Should().Contain("tenants[contoso]").And.Contain("ClientSecret is required");
        await host.StopAsync();
    }

    internal static void SecretClient(ClientCredentialsOptions o, OpenIddictServer server)
    {
        o.TokenEndpoint = server.TokenEndpoint;
        o.ClientId = OpenIddictServer.SecretClientId;
        o.ClientSecret = OpenIddictServer.ClientSecret;
        o.Scope = OpenIddictServer.Scope;
    }

    internal static JsonElement Claims(string jwt)
    {
        var payload = jwt.Split('.')[1].Replace('-', '+').Replace('_', '/');
        payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
        return JsonDocument.Parse(Convert.FromBase64String(payload)).RootElement.Clone();
    }

    /// <summary>One OpenIddict server for the tests that leave its state alone.</summary>
    public sealed class SharedServer : IAsyncLifetime
    {
        public OpenIddictServer Server { get; private set; } = null!;

        public async Task InitializeAsync() => Server = await OpenIddictServer.StartAsync(ClientHost.NewClock());

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }
}
