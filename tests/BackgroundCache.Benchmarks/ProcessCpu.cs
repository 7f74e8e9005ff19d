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

    /// <summary>
    /// Gets the CPU time the runtime's background GC thread has used so far (Linux; zero elsewhere). A background (gen2)
    /// collection marks on that thread while the program runs: it is in <see cref="Now"/> but not in
    /// <c>GC.GetTotalPauseDuration()</c>, which counts only the pauses.
    /// </summary>
    public static TimeSpan BackgroundGc()
    {
        if (!OperatingSystem.IsLinux())
        {
            return TimeSpan.Zero;
        }

        var total = TimeSpan.Zero;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd() != ".NET BGC"
                    || !int.TryParse(Path.GetFileName(task), out var tid))
                {
                    continue;
                }

                // The thread's CPU clock: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED) in the kernel's posix-timers.h.
                if (ClockGetTime((~tid << 3) | 6, out var ts) == 0)
                {
                    total += TimeSpan.FromTicks((ts.Seconds * TimeSpan.TicksPerSecond) + (ts.Nanoseconds / 100));
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return total;
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
