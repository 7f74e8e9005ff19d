// Stand-ins for the application types the docs' fragments name (your HTTP clients, stores and values). The docs check
// (.ci/docs-check.sh) compiles every fragment and class block of README.md and docs/*.md in one project with this file;
// a page's own class blocks take precedence over these (each page has its own namespace below DocSnippets).
namespace DocSnippets;

public sealed record ExchangeRates(decimal UsdToCny);

public sealed class RatesClient
{
    public Task<ExchangeRates> GetAsync(CancellationToken cancellationToken) => Task.FromResult(new ExchangeRates(7.1m));
}

public sealed record TenantConfig(string Tenant, string Theme);

public sealed class ConfigClient
{
    public Task<TenantConfig> GetAsync(string tenant, CancellationToken cancellationToken) => Task.FromResult(new TenantConfig(tenant, "light"));
}

public sealed class TenantStore
{
    public Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>(["acme", "globex"]);
}

public sealed record Lease(string Id, DateTimeOffset ValidUntil);

public sealed class LeaseClient
{
    public Task<Lease> AcquireAsync(CancellationToken cancellationToken) => Task.FromResult(new Lease("lease-1", DateTimeOffset.UtcNow.AddMinutes(10)));
}

public sealed class MyOAuthTokenSource : ITokenSource
{
    public ValueTask<AccessToken> GetTokenAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AccessToken("token", DateTimeOffset.UtcNow.AddHours(1)));
}

public sealed class MyTenantTokenSource : IKeyedTokenSource<string>
{
    public ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AccessToken("token-" + key, DateTimeOffset.UtcNow.AddHours(1)));
}

public sealed class AuthorizerTokenSource : IKeyedTokenSource<string>
{
    public ValueTask<AccessToken> GetTokenAsync(string key, CancellationToken cancellationToken) =>
        ValueTask.FromResult(new AccessToken("token-" + key, DateTimeOffset.UtcNow.AddHours(2)));
}
