using MetaNode.Grains.Chain;
using MetaNode.Grains.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MetaNode.Silo.Hosting;

/// <summary>How the silo's console log is written (<c>MetaNode:Logging:Format</c>).</summary>
public enum LogFormat
{
    /// <summary>One readable line per entry (the default).</summary>
    Text = 0,

    /// <summary>One JSON object per line, with the scopes (vPod, cluster, job, round) as fields: for log collectors.</summary>
    Json = 1,
}

/// <summary>Metrics and traces, section <c>MetaNode:Telemetry</c>.</summary>
public sealed class TelemetryOptions
{
    /// <summary>Serve <c>/metrics</c> (Prometheus text format, no identity needed). On by default.</summary>
    public bool Metrics { get; set; } = true;

    /// <summary>An OpenTelemetry collector to send traces to (e.g. <c>http://127.0.0.1:4317</c>); unset: no traces are recorded.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (port 4317 by convention) or <c>http/protobuf</c> (4318).</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>
    /// Also export Orleans' per-message instruments (message and header sizes, dispatcher and gateway counts, the grain-call
    /// latency histogram, directory lookups). Off by default: each grain call records into several of them (see the benchmark).
    /// </summary>
    public bool OrleansMessageMetrics { get; set; }

    internal IEnumerable<string> Validate()
    {
        if (OtlpEndpoint is not null && (!Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
        {
            yield return $"MetaNode:Telemetry:OtlpEndpoint must be an absolute http(s) URL (e.g. http://127.0.0.1:4317), got '{OtlpEndpoint}'.";
        }

        if (OtlpProtocol is not ("grpc" or "http/protobuf"))
        {
            yield return $"MetaNode:Telemetry:OtlpProtocol must be 'grpc' or 'http/protobuf', got '{OtlpProtocol}'.";
        }
    }
}

/// <summary>OpenTelemetry for the silo: the Orleans and MetaNode meters on <c>/metrics</c>, and a round's trace to an OTLP collector.</summary>
public static class SiloTelemetry
{
    /// <summary>The meters exported: MetaNode's own and Orleans' (grain calls, messaging, activations...).</summary>
    /// <summary>The meters exported: MetaNode's, Orleans', and .NET's own runtime meter (managed heap, GC, thread pool).</summary>
    public static readonly string[] Meters = [MetaNodeMetrics.MeterName, ChainConnector.MeterName, "Microsoft.Orleans", "System.Runtime"];

    /// <summary>The span sources recorded: MetaNode's, and Orleans' grain-call spans (kept only inside a MetaNode trace).</summary>
    public static readonly string[] Sources = [MetaNodeTracing.SourceName, "Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"];

    public static void AddMetaNodeTelemetry(this WebApplicationBuilder builder, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var telemetry = options.Telemetry;
        if (!telemetry.Metrics && telemetry.OtlpEndpoint is null)
        {
            return;
        }

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("metanode-silo", serviceInstanceId: $"{options.AdvertisedAddress}:{options.SiloPort}"));
        if (telemetry.Metrics)
        {
            otel.WithMetrics(metrics => metrics.AddMetaNodeMeters(telemetry).AddPrometheusExporter());
        }

        if (telemetry.OtlpEndpoint is { } endpoint)
        {
            otel.WithTracing(tracing => tracing
                .SetSampler(RoundTraceSampler.Create())
                .AddSource(Sources)
                .AddOtlpExporter(o =>
                {
                    o.Protocol = telemetry.OtlpProtocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = TraceEndpoint(endpoint, o.Protocol);
                }));
        }
    }

    /// <summary>The silo's meters, without Orleans' per-message instruments unless <see cref="TelemetryOptions.OrleansMessageMetrics"/>.</summary>
    public static MeterProviderBuilder AddMetaNodeMeters(this MeterProviderBuilder metrics, TelemetryOptions telemetry)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(telemetry);
        metrics.AddMeter(Meters);
        if (!telemetry.OrleansMessageMetrics)
        {
            // A dropped instrument is never enabled, so Orleans does not record into it at all.
            metrics.AddView(instrument => IsPerMessage(instrument.Meter.Name, instrument.Name) ? MetricStreamConfiguration.Drop : null);
        }

        return metrics;
    }

    /// <summary>Orleans instruments that record on every message or grain call (pure).</summary>
    public static bool IsPerMessage(string meter, string instrument) =>
        meter == "Microsoft.Orleans" && (
            instrument.StartsWith("orleans-messaging-processing-", StringComparison.Ordinal) ||
            instrument is "orleans-messaging-sent-messages-size" or "orleans-messaging-received-messages-size"
                or "orleans-messaging-sent-header-size" or "orleans-messaging-received-header-size" or "orleans-messaging-sent-local"
                or "orleans-gateway-received" or "orleans-gateway-sent" or "orleans-app-requests-latency" ||
            instrument.StartsWith("orleans-directory-lookups-", StringComparison.Ordinal));

    /// <summary>
    /// Where traces go: over gRPC the collector's address; over HTTP its <c>/v1/traces</c> path (added to a bare address, as
    /// the OTLP specification's environment variables do; a configured path is kept).
    /// </summary>
    public static Uri TraceEndpoint(string endpoint, OtlpExportProtocol protocol)
    {
        var uri = new Uri(endpoint);
        return protocol == OtlpExportProtocol.HttpProtobuf && uri.AbsolutePath is "/" or ""
            ? new Uri(uri, "/v1/traces")
            : uri;
    }

    /// <summary><c>/metrics</c>, when metrics are on.</summary>
    public static void MapMetaNodeMetrics(this WebApplication app, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Telemetry.Metrics)
        {
            app.MapPrometheusScrapingEndpoint("/metrics");
        }
    }
}

/// <summary>
/// Traces start only at MetaNode's own root spans (a federated round); everything under a recorded span is recorded, so a
/// round's grain calls are kept while the many grain calls outside any round (status polls, probes) cost nothing.
/// </summary>
public sealed class RoundTraceSampler : Sampler
{
    /// <summary>A new sampler for one tracer provider (a provider owns its sampler: one instance is never shared).</summary>
    public static Sampler Create() => new ParentBasedSampler(new RoundTraceSampler());

    private RoundTraceSampler()
    {
    }

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        new(samplingParameters.Name.StartsWith(MetaNodeTracing.SpanPrefix, StringComparison.Ordinal) ? SamplingDecision.RecordAndSample : SamplingDecision.Drop);
}

/// <summary>The console log: readable lines, or JSON lines with scopes (<c>MetaNode:Logging:Format</c>).</summary>
public static partial class SiloLogging
{
    /// <summary>One line once the silo serves: where to reach it (the host's own start lines are framework chatter, at Warning).</summary>
    public static void LogWhenReady(this WebApplication app, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(options);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MetaNode.Silo");
        app.Lifetime.ApplicationStarted.Register(() => LogReady(logger, options.Profile, $"{options.AdvertisedAddress}:{options.GatewayPort}", options.HttpAddress));
    }

    public static void ConfigureMetaNodeLogging(this WebApplicationBuilder builder, MetaNodeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Logging.Parsed == LogFormat.Json)
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
    }
}
