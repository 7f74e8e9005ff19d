namespace BackgroundCache.Douyin.Testing;

/// <summary>A misbehaviour <see cref="DouyinEmulator.InjectFault"/> makes token calls show.</summary>
public sealed class DouyinFault
{
    private DouyinFault(string name, long errorCode, int httpStatus)
    {
        Name = name;
        ErrorCode = errorCode;
        HttpStatus = httpStatus;
    }

    /// <summary>Gets system busy: <c>error_code</c> 2100004.</summary>
    public static DouyinFault SystemBusy { get; } = new(nameof(SystemBusy), 2100004, 200);

    /// <summary>Gets the rate limit: <c>error_code</c> 10020.</summary>
    public static DouyinFault RateLimited { get; } = new(nameof(RateLimited), 10020, 200);

    /// <summary>Gets a parameter error: <c>error_code</c> 10002.</summary>
    public static DouyinFault ParameterError { get; } = new(nameof(ParameterError), 10002, 200);

    /// <summary>Gets an HTTP 502 with an HTML body from a gateway.</summary>
    public static DouyinFault GatewayError { get; } = new(nameof(GatewayError), 0, 502);

    /// <summary>Gets a 200 answer whose body is not JSON.</summary>
    public static DouyinFault NotJson { get; } = new(nameof(NotJson), 0, 200);

    /// <summary>Gets the name of the fault.</summary>
    public string Name { get; }

    internal long ErrorCode { get; }

    internal int HttpStatus { get; }

    /// <summary>Creates a fault that answers <paramref name="errorCode"/> in <c>data.error_code</c>.</summary>
    /// <param name="errorCode">The error code.</param>
    /// <returns>The fault.</returns>
    public static DouyinFault Error(long errorCode) => new($"Error({errorCode})", errorCode, 200);

    /// <inheritdoc />
    public override string ToString() => Name;
}
