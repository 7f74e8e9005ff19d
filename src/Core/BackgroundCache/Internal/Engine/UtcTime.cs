namespace BackgroundCache.Internal.Engine;

/// <summary>
/// An instant as UTC ticks: 8 bytes where a <see cref="DateTimeOffset"/> takes 16 (a nullable one 16 instead of 24). The
/// entry's times are held in it (issue #21: a set keeps one entry per key); it converts implicitly both ways, so code keeps
/// reading and writing <see cref="DateTimeOffset"/>s. An instant read back has offset zero (the engine's clock is UTC).
/// </summary>
internal readonly struct UtcTime : IEquatable<UtcTime>
{
    private readonly long _ticks;

    private UtcTime(long ticks) => _ticks = ticks;

    /// <summary>Makes an instant from UTC ticks.</summary>
    public static UtcTime FromUtcTicks(long ticks) => new(ticks);

    /// <summary>Gets the instant's UTC ticks.</summary>
    public long UtcTicks => _ticks;

    public static implicit operator UtcTime(DateTimeOffset time) => new(time.UtcTicks);

    public static implicit operator DateTimeOffset(UtcTime time) => new(time._ticks, TimeSpan.Zero);

    public static DateTimeOffset operator +(UtcTime time, TimeSpan span) => time.ToDateTimeOffset() + span;

    public static bool operator ==(UtcTime left, UtcTime right) => left._ticks == right._ticks;

    public static bool operator !=(UtcTime left, UtcTime right) => left._ticks != right._ticks;

    public DateTimeOffset ToDateTimeOffset() => this;

    public bool Equals(UtcTime other) => _ticks == other._ticks;

    public override bool Equals(object? obj) => obj is UtcTime other && Equals(other);

    public override int GetHashCode() => _ticks.GetHashCode();

    public override string ToString() => ToDateTimeOffset().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
}
