namespace BackgroundCache.Polyfills;

/// <summary>
/// netstandard2.0 stand-in for <c>System.DateOnly</c> (.NET 6+): a calendar date, compared by its day number.
/// </summary>
/// <param name="DayNumber">The number of days since January 1, 0001 in the proleptic Gregorian calendar.</param>
internal readonly record struct DateOnly(int DayNumber)
{
    /// <summary>Gets the date part of <paramref name="dateTime"/>.</summary>
    /// <param name="dateTime">The date and time.</param>
    /// <returns>Its date.</returns>
    public static DateOnly FromDateTime(DateTime dateTime) => new((int)(dateTime.Ticks / TimeSpan.TicksPerDay));
}
