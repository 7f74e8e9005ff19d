using System.Net;
using System.Net.Http.Headers;
using System.Text;
using BackgroundCache.OAuth;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// The cost a token handler adds to one request: the same IHttpClientFactory client and an in-memory API that answers
/// 200 at once (no network, so the handlers' own work is what differs), bare, with AddClientCredentialsTokenHandler over a
/// loaded token, and with a hand-written cache-on-demand handler as users write it (a clock check per request, a lock
/// around the token call). Duende.AccessTokenManagement is not in this NuGet mirror.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchmarkConfig))]
public class OAuthHandlerBenchmarks
{
    private static readonly Uri Api = new("http://api.invalid/invoices");
    private IHost _host = null!;
    private HttpClient _bare = null!;
    private HttpClient _backgroundCache = null!;
    private HttpClient _handWritten = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddClientCredentialsToken("bench", o =>
        {
            o.TokenEndpoint = new Uri("http://idp.invalid/token");
            o.ClientId = "bench";
            o.ClientSecret = "secret";
        });
        builder.Services.AddHttpClient(ClientCredentialsOptions.DefaultHttpClientName).ConfigurePrimaryHttpMessageHandler(() => new TokenEndpoint());
        builder.Services.AddHttpClient("bare").ConfigurePrimaryHttpMessageHandler(() => new OkApi());
        builder.Services.AddHttpClient("backgroundcache").AddClientCredentialsTokenHandler("bench").ConfigurePrimaryHttpMessageHandler(() => new OkApi());
        builder.Services.AddHttpClient("hand-written")
            .AddHttpMessageHandler(() => new CacheOnDemandHandler(TimeProvider.System, new HttpClient(new TokenEndpoint())))
            .ConfigurePrimaryHttpMessageHandler(() => new OkApi());
        _host = builder.Build();
        await _host.StartAsync();
        await _host.Services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>("bench").GetAsync();
        var factory = _host.Services.GetRequiredService<IHttpClientFactory>();
        _bare = factory.CreateClient("bare");
        _backgroundCache = factory.CreateClient("backgroundcache");
        _handWritten = factory.CreateClient("hand-written");
        (await SendAsync(_handWritten)).EnsureSuccessStatusCode();
        (await SendAsync(_backgroundCache)).EnsureSuccessStatusCode();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Benchmark(Baseline = true, Description = "bare HttpClient (no token)")]
    public Task<HttpResponseMessage> Bare() => SendAsync(_bare);

    [Benchmark(Description = "AddClientCredentialsTokenHandler")]
    public Task<HttpResponseMessage> BackgroundCacheHandler() => SendAsync(_backgroundCache);

    [Benchmark(Description = "hand-written cache-on-demand handler")]
    public Task<HttpResponseMessage> HandWrittenHandler() => SendAsync(_handWritten);

    private static Task<HttpResponseMessage> SendAsync(HttpClient client) => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, Api));

    /// <summary>An API that accepts every request at once.</summary>
    private sealed class OkApi : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
    }

    /// <summary>A token endpoint that issues a day-long token.</summary>
    private sealed class TokenEndpoint : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent("{\"access_token\":\"eyJhbGciOi.token.sig\",\"token_type\":\"Bearer\",\"expires_in\":86400}", Encoding.UTF8, "application/json"),
            });
    }

    /// <summary>The handler users write: fetch when missing or about to expire, under a lock, on the request that needs it.</summary>
    private sealed class CacheOnDemandHandler(TimeProvider time, HttpClient tokenClient) : DelegatingHandler
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private string? _token;
        private DateTimeOffset _expiresAt;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (_token is null || time.GetUtcNow() >= _expiresAt - TimeSpan.FromMinutes(1))
            {
                await _lock.WaitAsync(cancellationToken);
                try
                {
                    if (_token is null || time.GetUtcNow() >= _expiresAt - TimeSpan.FromMinutes(1))
                    {
                        using var answer = await tokenClient.PostAsync(new Uri("http://idp.invalid/token"), new FormUrlEncodedContent([new("grant_type", "client_credentials")]), cancellationToken);
                        using var json = await System.Text.Json.JsonDocument.ParseAsync(await answer.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
                        _token = json.RootElement.GetProperty("access_token").GetString();
                        _expiresAt = time.GetUtcNow().AddSeconds(json.RootElement.GetProperty("expires_in").GetInt32());
                    }
                }
                finally
                {
                    _lock.Release();
                }
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
