using System.Diagnostics;
using System.Runtime.InteropServices;

namespace BackgroundCache.Benchmarks;

/// <summary>
/// The process's CPU time, to the nanosecond where the OS gives it: <c>Process.TotalProcessorTime</c> reads
/// <c>/proc/self/stat</c> on Linux, in 10 ms clock ticks, too coarse for a 10 ms load; <c>clock_gettime</c> with
/// <c>CLOCK_PROCESS_CPUTIME_ID</c> sums the threads' scheduler time exactly.
/// </summary>
internal static partial class ProcessCpu
{
    private const int ClockProcessCpuTimeId = 2;

    /// <summary>Gets the CPU time the process has used so far (all threads, user and kernel).</summary>
    public static TimeSpan Now()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockProcessCpuTimeId, out var ts) == 0)
        {
            return TimeSpan.FromTicks((ts.Seconds * TimeSpan.TicksPerSecond) + (ts.Nanoseconds / 100));
        }

        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out TimeSpec value);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
