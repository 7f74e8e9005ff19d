using BackgroundCache.Samples.OAuth;

// A worker that calls an API protected by OAuth 2.0 through AddClientCredentialsTokenHandler. In Development with no
// identity provider configured, it starts OpenIddict in-process (DevelopmentIdentityProvider) and calls the invoices API
// that server protects; elsewhere it uses the OAuth:Billing and BillingApi settings.
await using var app = await OAuthWorkerApp.StartAsync(args);
await app.Host.WaitForShutdownAsync();
