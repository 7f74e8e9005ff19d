using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace BackgroundCache.Benchmarks;

/// <summary>Fewer iterations than the default (the whole suite runs in minutes on 2 cores); ratios against the baseline.</summary>
public sealed class BenchmarkConfig : ManualConfig
{
    public BenchmarkConfig()
    {
        AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(12));
        AddColumn(BaselineRatioColumn.RatioMean);
        AddExporter(CsvExporter.Default);
        SummaryStyle = SummaryStyle.Default.WithRatioStyle(RatioStyle.Trend);
    }
}
