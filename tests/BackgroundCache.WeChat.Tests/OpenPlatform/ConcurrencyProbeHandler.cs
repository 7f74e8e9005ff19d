namespace BackgroundCache.WeChat.Tests.OpenPlatform;

/// <summary>
/// Counts, on the client side, the requests to one path that are in flight at once, and can hold them until released
/// (a gate the test opens), so a fetch budget can be observed without timing.
/// </summary>
internal sealed class ConcurrencyProbeHandler(string pathSuffix) : DelegatingHandler
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _peak;
    private int _arrived;
    private bool _gated;

    public int Peak => Volatile.Read(ref _peak);

    public int Arrived => Volatile.Read(ref _arrived);

    public void Close() => _gated = true;

    public void Open() => _open.TrySetResult();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri?.AbsolutePath.EndsWith(pathSuffix, StringComparison.Ordinal) != true)
        {
            return await base.SendAsync(request, cancellationToken);
        }

        var now = Interlocked.Increment(ref _inFlight);
        int peak;
        while (now > (peak = Volatile.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
        }

        Interlocked.Increment(ref _arrived);
        try
        {
            if (_gated)
            {
                await _open.Task.WaitAsync(cancellationToken);
            }

            return await base.SendAsync(request, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
