using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace BackgroundCache.OAuth.Tests;

/// <summary>Answers a real authorization server never gives, and the handler's one-retry rule, against a hand-written fake.</summary>
public sealed class FakeIssuerTests
{
    private const string Secret = "p@ss word+:%";

    [Theory]
    [InlineData(502, true)]
    [InlineData(200, true)]
    [InlineData(404, false)]
    public async Task HtmlAnswer_IsATypedErrorWithoutTheBody(int status, bool transient)
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Token = (_, context) =>
        {
            context.Response.StatusCode = status;
            context.Response.ContentType = "text/html";
            return context.Response.WriteAsync("<html><body>Bad gateway " + Secret + "</body></html>");
        };
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer));

        var failure = client.Cache.Status.LastError.Should().BeOfType<OAuthTokenException>().Subject;
        failure.StatusCode.Should().Be((HttpStatusCode)status);
        failure.Error.Should().BeNull();
        failure.IsTransient.Should().Be(transient);
        failure.Message.Should().Contain("text/html").And.NotContain("<html>").And.NotContain(Secret);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task RetryAfter_IsHonouredBeforeTheNextAttempt(int status)
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Token = (n, context) =>
        {
            if (n > 1)
            {
                return context.Response.WriteAsJsonAsync(new { access_token = "late", expires_in = 3600 });
            }

            context.Response.StatusCode = status;
            context.Response.Headers.RetryAfter = "120";
            return context.Response.WriteAsJsonAsync(new { error = status == 429 ? "slow_down" : "temporarily_unavailable" });
        };
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer));

        var failure = client.Cache.Status.LastError.Should().BeOfType<OAuthTokenException>().Subject;
        failure.IsTransient.Should().BeTrue();
        failure.RetryAfter.Should().Be(TimeSpan.FromSeconds(120));
        (client.Cache.Status.NextRefreshAt - client.Time.GetUtcNow()).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(120));
        await FluentActions.Awaiting(() => client.Cache.RefreshAsync()).Should().ThrowAsync<OAuthTokenException>(); // no call before Retry-After
        issuer.TokenRequests.Should().Be(1);

        await client.AdvanceAsync(TimeSpan.FromSeconds(121));

        client.Cache.TryGetValue(out var token).Should().BeTrue();
        token!.Value.Should().Be("late");
    }

    [Theory]
    [InlineData("invalid_client", 401, false)]
    [InlineData("unauthorized_client", 400, false)]
    [InlineData("invalid_scope", 400, false)]
    [InlineData("invalid_grant", 400, false)]
    [InlineData("unsupported_grant_type", 400, false)]
    [InlineData("temporarily_unavailable", 400, true)]
    [InlineData("server_error", 500, true)]
    [InlineData("anything", 502, true)]
    public async Task ErrorCodes_ArePermanentOrTransientAsRfc6749Says(string error, int status, bool transient)
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Token = (_, context) =>
        {
            context.Response.StatusCode = status;
            return context.Response.WriteAsJsonAsync(new { error, error_description = "said the issuer" });
        };
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer));

        var failure = client.Cache.Status.LastError.Should().BeOfType<OAuthTokenException>().Subject;
        failure.Error.Should().Be(error);
        failure.ErrorDescription.Should().Be("said the issuer");
        failure.StatusCode.Should().Be((HttpStatusCode)status);
        failure.IsTransient.Should().Be(transient);
        failure.RetryAfter.Should().BeNull();
    }

    [Fact]
    public async Task Timeout_OfTheHttpClient_IsATransientTypedError()
    {
        await using var issuer = await FakeIssuer.StartAsync();
        await using var client = await ClientHost.StartAsync(
            o => Configure(o, issuer),
            services: s => s.AddHttpClient(ClientCredentialsOptions.DefaultHttpClientName).AddHttpMessageHandler(() => new TimingOut()));

        var failure = client.Cache.Status.LastError.Should().BeOfType<OAuthTokenException>().Subject;
        failure.IsTransient.Should().BeTrue();
        failure.Message.Should().Contain("did not answer in time");
    }

    [Theory]
    [InlineData("jwt", 7200)]
    [InlineData("opaque", 3600)]
    [InlineData("string", 600)]
    public async Task Expiry_FromExpiresInElseTheJwtElseDefaultLifetime(string answer, int expectedSeconds)
    {
        await using var issuer = await FakeIssuer.StartAsync();
        DateTimeOffset? issuedAt = null;
        issuer.Token = (_, context) =>
        {
            var now = DateTimeOffset.FromUnixTimeSeconds(issuedAt!.Value.ToUnixTimeSeconds());
            return answer switch
            {
                "jwt" => context.Response.WriteAsJsonAsync(new { access_token = Jwt(now.AddHours(2)), token_type = "Bearer" }),
                "opaque" => context.Response.WriteAsJsonAsync(new { access_token = "opaque", token_type = "bearer" }),
                _ => context.Response.WriteAsync("{\"access_token\":\"s\",\"expires_in\":\"600\"}"),
            };
        };
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds() + 1));
        issuedAt = time.GetUtcNow();
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer), time: time);

        client.Cache.TryGetValue(out var token).Should().BeTrue();
        token!.ExpiresAt.Should().Be(issuedAt.Value.AddSeconds(expectedSeconds));
    }

    [Fact]
    public async Task BasicHeader_FormEncodesIdAndSecretBeforeBase64()
    {
        await using var issuer = await FakeIssuer.StartAsync();
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer, clientId: "svc:billing é"));

        issuer.AuthorizationHeaders.TryPeek(out var header).Should().BeTrue();
        header.Should().StartWith("Basic ");
        Encoding.UTF8.GetString(Convert.FromBase64String(header!["Basic ".Length..])).Should().Be("svc%3Abilling+%C3%A9:p%40ss+word%2B%3A%25");
    }

    [Fact]
    public async Task Configuration_RequestBody_SendsIdSecretScopeResourceAndParametersInTheForm()
    {
        await using var issuer = await FakeIssuer.StartAsync();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OAuth:Billing:TokenEndpoint"] = issuer.TokenEndpoint.AbsoluteUri,
            ["OAuth:Billing:ClientId"] = "svc",
            ["OAuth:Billing:ClientSecret"] = Secret,
            ["OAuth:Billing:ClientAuthentication"] = "RequestBody",
            ["OAuth:Billing:Scope"] = "a b",
            ["OAuth:Billing:Resource"] = "https://api.example.com/",
            ["OAuth:Billing:Parameters:audience"] = "https://api.example.com",
        });
        builder.Services.AddClientCredentialsToken("billing", builder.Configuration.GetSection("OAuth:Billing"));
        using var host = builder.Build();
        await host.StartAsync();

        var token = await host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("billing").GetAsync();

        token.Value.Should().Be("token-1");
        issuer.AuthorizationHeaders.Should().Equal(string.Empty);
        issuer.TokenBodies.Single().Split('&').Should().BeEquivalentTo(
            "grant_type=client_credentials",
            "scope=a+b",
            "resource=https%3A%2F%2Fapi.example.com%2F",
            "audience=https%3A%2F%2Fapi.example.com",
            "client_id=svc",
            "client_secret=p%40ss+word%2B%3A%25");
        await host.StopAsync();
    }

    [Fact]
    public async Task Handler_SecondUnauthorized_IsReturnedWithoutAThirdCall()
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Api = FakeIssuer.RejectAsInvalidToken;
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer), issuer.BaseAddress);

        using var response = await client.Api.GetAsync(new Uri("api/data", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        issuer.ApiCalls.Should().Be(2);
        issuer.TokenRequests.Should().Be(2);
    }

    [Theory]
    [InlineData("Bearer error=\"insufficient_scope\"")]
    [InlineData("Bearer realm=\"api\"")]
    [InlineData("Basic realm=\"api\", error=\"invalid_token\"")]
    public async Task Handler_UnauthorizedForAnotherReason_IsNotRetried(string challenge)
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Api = context =>
        {
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate = challenge;
            return Task.CompletedTask;
        };
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer), issuer.BaseAddress);

        using var response = await client.Api.GetAsync(new Uri("api/data", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        issuer.ApiCalls.Should().Be(1);
        issuer.TokenRequests.Should().Be(1);
    }

    [Fact]
    public async Task Handler_NonReplayableBody_IsNotSentTwiceButTheTokenIsReplaced()
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Api = context => context.Request.Headers.Authorization == "Bearer token-1" ? FakeIssuer.RejectAsInvalidToken(context) : Task.CompletedTask;
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer), issuer.BaseAddress);

        using var response = await client.Api.PostAsync(new Uri("api/upload", UriKind.Relative), new StreamContent(new ForwardOnlyStream(Encoding.UTF8.GetBytes("chunk"))));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        issuer.ApiCalls.Should().Be(1);
        issuer.TokenRequests.Should().Be(2);
        client.Cache.TryGetValue(out var token).Should().BeTrue();
        token!.Value.Should().Be("token-2");
    }

    [Fact]
    public async Task Handler_BufferedStreamBody_IsSentAgainWhole()
    {
        await using var issuer = await FakeIssuer.StartAsync();
        issuer.Api = context => context.Request.Headers.Authorization == "Bearer token-1" ? FakeIssuer.RejectAsInvalidToken(context) : Task.CompletedTask;
        await using var client = await ClientHost.StartAsync(o => Configure(o, issuer), issuer.BaseAddress);
        var content = new StreamContent(new ForwardOnlyStream(Encoding.UTF8.GetBytes("small body")));
        content.Headers.ContentLength = 10;

        using var response = await client.Api.PostAsync(new Uri("api/upload", UriKind.Relative), content);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        issuer.ApiBodies.Should().Equal("small body", "small body");
    }

    [Fact]
    public async Task Validation_AtStart_NamesTheSettingAndNeverTheSecret()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddClientCredentialsToken("billing", o =>
        {
            o.TokenEndpoint = new Uri("https://idp.example.com/token");
            o.Authority = new Uri("https://idp.example.com/");
            o.ClientSecret = Secret;
            o.Parameters["client_id"] = "x";
        });
        using var host = builder.Build();

        var failure = await FluentActions.Awaiting(() => host.StartAsync()).Should().ThrowAsync<OptionsValidationException>();

        failure.Which.Message.Should().Contain("TokenEndpoint or Authority").And.Contain("ClientId is required").And.Contain("Parameters may not set 'client_id'").And.NotContain(Secret);
    }

    [Fact]
    public async Task Validation_FromConfiguration_PrivateKeyJwtWithoutKeyFailsAtStart()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OAuth:Billing:TokenEndpoint"] = "https://idp.example.com/token",
            ["OAuth:Billing:ClientId"] = "billing",
            ["OAuth:Billing:ClientAuthentication"] = "PrivateKeyJwt",
            ["OAuth:Billing:Parameters:audience"] = "https://api.example.com",
        });
        builder.Services.AddClientCredentialsToken("billing", builder.Configuration.GetSection("OAuth:Billing"));
        using var host = builder.Build();

        var failure = await FluentActions.Awaiting(() => host.StartAsync()).Should().ThrowAsync<OptionsValidationException>();

        failure.Which.Message.Should().Contain("PrivateKey (PEM) or Certificate is required");
    }

    private static void Configure(ClientCredentialsOptions o, FakeIssuer issuer, string clientId = "svc")
    {
        o.TokenEndpoint = issuer.TokenEndpoint;
        o.ClientId = clientId;
        o.ClientSecret = Secret;
    }

    private static string Jwt(DateTimeOffset expiresAt)
    {
        static string Part(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return Part("{\"alg\":\"none\"}") + "." + Part($"{{\"exp\":{expiresAt.ToUnixTimeSeconds()}}}") + ".sig";
    }

    private sealed class TimingOut : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromException<HttpResponseMessage>(new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout.", new TimeoutException()));
    }

    /// <summary>A stream that can be read once, front to back, and whose length is unknown (an upload being produced).</summary>
    private sealed class ForwardOnlyStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => base.Position; set => throw new NotSupportedException(); }

        public override long Seek(long offset, SeekOrigin loc) => throw new NotSupportedException();
    }
}
