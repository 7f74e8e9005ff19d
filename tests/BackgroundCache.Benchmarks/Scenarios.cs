namespace BackgroundCache.Benchmarks;

/// <summary>Scenario measurements that are counts over simulated time rather than nanoseconds.</summary>
public static class Scenarios
{
    public static async Task RunAsync(string[] args)
    {
        var only = args.Length > 0 ? args[0] : "all";
        if (only is "all" or "stampede")
        {
            await StampedeScenario.RunAsync();
        }

        if (only is "all" or "day")
        {
            await UpstreamCallsScenario.RunAsync();
        }

        if (only is "all" or "starvation")
        {
            await StarvationScenario.RunAsync();
        }

        if (only is "churn")
        {
            await ChurnScenario.RunAsync(args.Length > 1 ? args[1..] : []);
        }

        if (only is "singles")
        {
            await ChurnScenario.RunSinglesAsync();
        }

        if (only is "singles-child")
        {
            await ChurnScenario.RunSinglesChildAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
        }

        if (only is "load-cpu-set-only")
        {
            await ChurnScenario.RunSetLoadOnlyAsync();
        }

        if (only is "load-cpu-loop-only")
        {
            await ChurnScenario.RunLoopLoadOnlyAsync();
        }

        if (only is "load-cpu")
        {
            await ChurnScenario.RunLoadCpuAsync();
        }

        if (only is "all" or "sets")
        {
            await CacheSetScenario.RunAsync(args.Length > 1 ? args[1..] : []);
        }
    }
}
