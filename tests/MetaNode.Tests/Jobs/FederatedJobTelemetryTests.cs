using System.Diagnostics;
using MetaNode.Federation;
using MetaNode.Silo.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace MetaNode.Tests.Jobs;

/// <summary>A round's trace and metrics, read through OpenTelemetry's SDK with in-memory exporters (the silo's sampler and sources).</summary>
public sealed partial class FederatedJobTests
{
    [Fact]
    public async Task EachRound_IsOneTrace_SpanningDispatchTrainingAggregationAndFinalization_AndItsMetricsAreRecorded()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using var tracer = Sdk.CreateTracerProviderBuilder().SetSampler(RoundTraceSampler.Create()).AddSource(SiloTelemetry.Sources).AddInMemoryExporter(spans).Build();
        using var meter = Sdk.CreateMeterProviderBuilder().AddMeter(SiloTelemetry.Meters).AddInMemoryExporter(metrics).Build();
        var job = NewJobId();

        var status = await Cluster.RunAsync(job, Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));
        Assert.Equal(FederatedJobPhase.Completed, status.Phase);
        tracer.ForceFlush();
        meter.ForceFlush();

        List<Activity> ofJob;
        lock (spans)
        {
            ofJob = spans.Where(s => Equals(s.GetTagItem("metanode.job"), job)).ToList();
        }

        var roots = ofJob.Where(s => s.OperationName == "metanode.round").OrderBy(s => (int)s.GetTagItem("metanode.round")!).ToList();
        Assert.Equal([1, 2], roots.Select(r => (int)r.GetTagItem("metanode.round")!));
        Assert.All(roots, r => Assert.Equal(default, r.ParentSpanId));
        Assert.NotEqual(roots[0].TraceId, roots[1].TraceId);
        foreach (var root in roots)
        {
            var round = (int)root.GetTagItem("metanode.round")!;
            var inTrace = ofJob.Where(s => s.TraceId == root.TraceId).ToList();

            // The job's stages, each compute vPod's training call (in its own grain, reached by a one-way grain call), each
            // validator's aggregation (in its grain) and the chain transaction (in the account grain): one trace.
            Assert.Single(inTrace, s => s.OperationName == "metanode.round.dispatch");
            Assert.Single(inTrace, s => s.OperationName == "metanode.round.aggregate");
            Assert.Single(inTrace, s => s.OperationName == "metanode.round.finalize");
            Assert.Equal(fixture.Compute, inTrace.Where(s => s.OperationName == "metanode.vpod.train").Select(s => (string)s.GetTagItem("metanode.vpod")!).Order(StringComparer.Ordinal));
            Assert.Equal(fixture.Validators, inTrace.Where(s => s.OperationName == "metanode.validator.aggregate").Select(s => (string)s.GetTagItem("metanode.vpod")!).Order(StringComparer.Ordinal));
            Assert.Single(inTrace, s => s.OperationName == "metanode.chain.finalize");
            Assert.All(inTrace, s => Assert.Equal(round, Convert.ToInt32(s.GetTagItem("metanode.round"), System.Globalization.CultureInfo.InvariantCulture)));

            // Training happens between dispatch and aggregation, finalization after aggregation, all inside the round's span.
            var dispatch = inTrace.Single(s => s.OperationName == "metanode.round.dispatch");
            var aggregate = inTrace.Single(s => s.OperationName == "metanode.round.aggregate");
            var finalize = inTrace.Single(s => s.OperationName == "metanode.round.finalize");
            Assert.All(inTrace.Where(s => s.OperationName == "metanode.vpod.train"), t => Assert.True(t.StartTimeUtc >= dispatch.StartTimeUtc && t.StartTimeUtc <= aggregate.StartTimeUtc, $"training at {t.StartTimeUtc:O}, dispatch at {dispatch.StartTimeUtc:O}, aggregation at {aggregate.StartTimeUtc:O}"));
            Assert.True(finalize.StartTimeUtc >= aggregate.StartTimeUtc + aggregate.Duration, $"finalization at {finalize.StartTimeUtc:O}, aggregation {aggregate.StartTimeUtc:O} + {aggregate.Duration}");
            Assert.True(root.StartTimeUtc + root.Duration >= finalize.StartTimeUtc + finalize.Duration, $"round ends {root.StartTimeUtc + root.Duration:O}, finalization {finalize.StartTimeUtc + finalize.Duration:O}");
        }

        // The rounds' metrics: stage durations, the finalized rounds, the job's accuracy and participants.
        var stages = Points(metrics, "metanode.round.stage.duration").Select(p => (string)Tag(p, "stage")!).ToHashSet();
        Assert.Superset(new HashSet<string> { "dispatch", "training", "collection", "stream_delivery", "aggregation", "finalization", "total" }, stages);
        Assert.True(Points(metrics, "metanode.rounds").Where(p => (string?)Tag(p, "outcome") == "finalized").Sum(p => p.GetSumLong()) >= 2);
        var accuracy = Points(metrics, "metanode.job.accuracy_ratio").Last(p => (string?)Tag(p, "job_id") == job).GetGaugeLastValueDouble();
        Assert.Equal(status.FinalAccuracy!.Value, accuracy, 12);
        Assert.Equal(10, Points(metrics, "metanode.job.round_participants").Last(p => (string?)Tag(p, "job_id") == job).GetGaugeLastValueLong());
        Assert.True(Points(metrics, "metanode.chain.gas_used").Sum(p => p.GetSumLong()) > 0);
    }

    private static List<MetricPoint> Points(List<Metric> metrics, string name)
    {
        var points = new List<MetricPoint>();
        lock (metrics)
        {
            foreach (var metric in metrics.Where(m => m.Name == name))
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    points.Add(point);
                }
            }
        }

        Assert.True(points.Count > 0, $"no points of {name}");
        return points;
    }

    private static object? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }
}
