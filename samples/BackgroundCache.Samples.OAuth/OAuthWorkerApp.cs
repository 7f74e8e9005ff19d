using Microsoft.Extensions.Options;

namespace BackgroundCache.Samples.OAuth;

/// <summary>The sample's host: a client credentials token, an HttpClient that carries it, and a worker that calls the API.</summary>
public sealed class OAuthWorkerApp : IAsyncDisposable
{
    private OAuthWorkerApp(IHost host, DevelopmentIdentityProvider? identityProvider)
    {
        Host = host;
        IdentityProvider = identityProvider;
    }

    public IHost Host { get; }

    /// <summary>Gets the in-process identity provider started in Development, or null when one is configured.</summary>
    public DevelopmentIdentityProvider? IdentityProvider { get; }

    public static async Task<OAuthWorkerApp> StartAsync(string[] args, Action<HostApplicationBuilder>? customize = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(args);
        customize?.Invoke(builder);
        DevelopmentIdentityProvider? identityProvider = null;
        if (builder.Environment.IsDevelopment() && string.IsNullOrEmpty(builder.Configuration["OAuth:Billing:Authority"]))
        {
            identityProvider = await DevelopmentIdentityProvider.StartAsync();
            builder.Configuration["OAuth:Billing:Authority"] = identityProvider.BaseAddress.AbsoluteUri;
            builder.Configuration["OAuth:Billing:ClientId"] = DevelopmentIdentityProvider.SecretClientId;
            builder.Configuration["OAuth:Billing:ClientSecret"] = DevelopmentIdentityProvider.ClientSecret;
            builder.Configuration["BillingApi:BaseAddress"] = identityProvider.BaseAddress.AbsoluteUri;
        }

        builder.Services.AddClientCredentialsToken("billing", builder.Configuration.GetSection("OAuth:Billing"))
            .WithHealthCheck();
        builder.Services.AddHttpClient<InvoiceClient>(c => c.BaseAddress = new Uri(builder.Configuration["BillingApi:BaseAddress"]
                ?? throw new InvalidOperationException("Set BillingApi:BaseAddress (the protected API).")))
            .AddClientCredentialsTokenHandler("billing");
        builder.Services.Configure<InvoiceWorkerOptions>(builder.Configuration.GetSection("Worker"));
        builder.Services.AddHostedService<InvoiceWorker>();

        var host = builder.Build();
        await host.StartAsync();
        return new OAuthWorkerApp(host, identityProvider);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
        if (IdentityProvider is not null)
        {
            await IdentityProvider.DisposeAsync();
        }
    }
}

/// <summary>A typed client of the protected invoices API; the handler adds the bearer token.</summary>
public sealed class InvoiceClient(HttpClient http)
{
    public async Task<string> GetInvoicesAsync(CancellationToken cancellationToken) =>
        await http.GetStringAsync(new Uri("api/invoices", UriKind.Relative), cancellationToken);
}

/// <summary>How often the worker calls the API.</summary>
public sealed class InvoiceWorkerOptions
{
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Calls the API every <see cref="InvoiceWorkerOptions.Interval"/>; a failed call is logged and the loop goes on.</summary>
public sealed partial class InvoiceWorker(InvoiceClient client, IOptions<InvoiceWorkerOptions> options, TimeProvider time, ILogger<InvoiceWorker> logger)
    : BackgroundService
{
    private readonly TaskCompletionSource<string> _firstAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets the first answer of the API (the sample's test waits for it).</summary>
    public Task<string> FirstAnswer => _firstAnswer.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        do
        {
            try
            {
                var invoices = await client.GetInvoicesAsync(stoppingToken);
                _firstAnswer.TrySetResult(invoices);
                LogCalled(logger, invoices);
            }
            catch (Exception ex) when (ex is HttpRequestException or BackgroundCache.CacheValueUnavailableException)
            {
                LogFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(1, LogLevel.Information, "Invoices API answered {Answer}")]
    private static partial void LogCalled(ILogger logger, string answer);

    [LoggerMessage(2, LogLevel.Warning, "Invoices API call failed")]
    private static partial void LogFailed(ILogger logger, Exception error);
}
