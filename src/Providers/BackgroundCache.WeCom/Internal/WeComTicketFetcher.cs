using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BackgroundCache.WeCom.Internal;

/// <summary>
/// Fetches a JS-SDK ticket (corp: <c>get_jsapi_ticket</c>; agent: <c>ticket/get?type=agent_config</c>) with the app's
/// current token; a refused token is reported and the call made once more with its replacement.
/// </summary>
internal static class WeComTicketFetcher
{
    /// <summary>The corp ticket's path and query, up to the token.</summary>
    public const string CorpTicketPath = "cgi-bin/get_jsapi_ticket?";
    /// <summary>The agent ticket's path and query, up to the token.</summary>
    public const string AgentTicketPath = "cgi-bin/ticket/get?type=agent_config&";

    public static async ValueTask<(string Value, DateTimeOffset ExpiresAt)> FetchAsync(IServiceProvider services, string name, string path, CancellationToken cancellationToken)
    {
        var tokens = services.GetRequiredKeyedService<IRefreshingCache<AccessToken>>(name);
        var options = services.GetRequiredService<IOptionsMonitor<WeComOptions>>().Get(name);
        var time = services.GetRequiredService<TimeProvider>();
        var client = services.GetRequiredService<IHttpClientFactory>().CreateClient(options.HttpClientName);
        var subject = WeComAccessTokenSource.Subject(name, options);

        var token = await tokens.GetAsync(cancellationToken).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            var started = time.GetUtcNow();
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(options.BaseAddress, $"{path}access_token={Uri.EscapeDataString(token.Value)}"));
            try
            {
                using var document = await WeComApi.CallAsync(client, request, subject, [options.CorpSecret, token.Value], cancellationToken).ConfigureAwait(false);
                var (value, expiresIn) = WeComApi.ReadExpiring(document.RootElement, "ticket", subject);
                return (value, started.AddSeconds(expiresIn));
            }
            catch (WeComApiException ex) when (attempt == 1 && WeComErrors.IsTokenRejection(ex.ErrorCode))
            {
                // Report the refused token (one refresh however many callers) and try once more with its replacement.
                Log.TicketTokenRejected(services.GetRequiredService<ILoggerFactory>().CreateLogger("BackgroundCache.WeCom"), name, token.Fingerprint, ex.ErrorCode);
                var replacement = await tokens.InvalidateAsync(token, cancellationToken).ConfigureAwait(false);
                if (replacement.Equals(token))
                {
                    throw;
                }

                token = replacement;
            }
        }
    }
}
