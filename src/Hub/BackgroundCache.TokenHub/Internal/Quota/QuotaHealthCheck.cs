using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace BackgroundCache.TokenHub.Internal.Quota;

/// <summary>
/// <c>quota:{app}</c>: Degraded once a window of the app has used 80 % of its quota, Unhealthy at 100 % (the issuer refuses
/// the next call, WeChat with 45009), naming the window, its count and its limit.
/// </summary>
internal sealed class QuotaHealthCheck(QuotaLedger ledger) : IHealthCheck
{
    public const double DegradedShare = 0.8;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var app = context.Registration.Name["quota:".Length..];
        await ledger.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var uses = ledger.Use(app);
        var data = uses.ToDictionary(u => u.Window.Name, u => (object)(u.Limit is { } limit ? $"{u.Used}/{limit}" : u.Used.ToString(CultureInfo.InvariantCulture)));
        var worst = uses.Where(u => u.Limit is not null).OrderByDescending(u => u.Share).FirstOrDefault();
        if (worst.Window is null || worst.Share < DegradedShare)
        {
            return HealthCheckResult.Healthy($"App '{app}' is within its issuer's quotas.", data);
        }

        var text = $"App '{app}' has used {worst.Used} of {worst.Limit} calls in its {worst.Window.Name} window ({worst.Share:P0})";
        return worst.Share >= 1
            ? HealthCheckResult.Unhealthy(text + ": the issuer refuses further calls until the window ends.", data: data)
            : HealthCheckResult.Degraded(text + ".", data: data);
    }
}
