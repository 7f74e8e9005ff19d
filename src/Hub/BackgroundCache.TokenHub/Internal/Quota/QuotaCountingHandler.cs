using BackgroundCache.TokenHub.Internal.Providers;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>
/// Counts an app's upstream calls in the ledger: the last handler of the app's own HttpClient, so it sees exactly the
/// requests that reach the issuer (retries included, calls answered from Redis by another hub excluded) and can tell a
/// token call from a forced refresh by its request. A call counts once the issuer answered it (any status), as issuers count.
/// </summary>
internal sealed class QuotaCountingHandler(QuotaLedger ledger, HubProvider provider, string app) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var calls = await provider.ClassifyAsync(request, cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await ledger.RecordAsync(app, calls, cancellationToken).ConfigureAwait(false);
        return response;
    }
}
