using MetaNode.Silo.Hosting;
using OpenTelemetry.Exporter;

namespace MetaNode.Tests.Observability;

public sealed class TelemetryOptionsTests
{
    [Theory]
    [InlineData("127.0.0.1:4317", "grpc", "MetaNode:Telemetry:OtlpEndpoint must be an absolute http(s) URL")]
    [InlineData("ftp://127.0.0.1:4317", "grpc", "MetaNode:Telemetry:OtlpEndpoint must be an absolute http(s) URL")]
    [InlineData("http://127.0.0.1:4317", "thrift", "MetaNode:Telemetry:OtlpProtocol must be 'grpc' or 'http/protobuf', got 'thrift'")]
    public void BadTelemetrySettings_AreRefused_NamingTheKey(string endpoint, string protocol, string expected)
    {
        var options = new MetaNodeSiloOptions { Telemetry = new TelemetryOptions { OtlpEndpoint = endpoint, OtlpProtocol = protocol } };
        var result = new MetaNodeSiloOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void TheDefaults_AndAJsonLogFormat_AreAccepted()
    {
        Assert.True(new MetaNodeSiloOptionsValidator().Validate(null, new MetaNodeSiloOptions()).Succeeded);
        var json = new MetaNodeSiloOptions { Logging = new SiloLoggingOptions { Format = "JSON" }, Telemetry = new TelemetryOptions { OtlpEndpoint = "https://127.0.0.1:4318", OtlpProtocol = "http/protobuf" } };
        Assert.True(new MetaNodeSiloOptionsValidator().Validate(null, json).Succeeded);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4318", OtlpExportProtocol.HttpProtobuf, "http://127.0.0.1:4318/v1/traces")]
    [InlineData("http://127.0.0.1:4318/", OtlpExportProtocol.HttpProtobuf, "http://127.0.0.1:4318/v1/traces")]
    [InlineData("http://127.0.0.1:4318/custom/traces", OtlpExportProtocol.HttpProtobuf, "http://127.0.0.1:4318/custom/traces")]
    [InlineData("http://127.0.0.1:4317", OtlpExportProtocol.Grpc, "http://127.0.0.1:4317/")]
    public void TraceEndpoint_AddsTheTracesPath_ToABareHttpAddressOnly(string configured, OtlpExportProtocol protocol, string expected) =>
        Assert.Equal(expected, SiloTelemetry.TraceEndpoint(configured, protocol).ToString());

    [Theory]
    [InlineData("Microsoft.Orleans", "orleans-app-requests-latency", true)]
    [InlineData("Microsoft.Orleans", "orleans-messaging-sent-messages-size", true)]
    [InlineData("Microsoft.Orleans", "orleans-messaging-processing-dispatcher-received", true)]
    [InlineData("Microsoft.Orleans", "orleans-gateway-sent", true)]
    [InlineData("Microsoft.Orleans", "orleans-directory-lookups-cache-issued", true)]
    [InlineData("Microsoft.Orleans", "orleans-messaging-sent-failed", false)]
    [InlineData("Microsoft.Orleans", "orleans-catalog-activations", false)]
    [InlineData("Microsoft.Orleans", "orleans-storage-write-latency", false)]
    [InlineData("MetaNode", "orleans-app-requests-latency", false)]
    public void PerMessageInstruments_AreOrleansOwnHotOnes(string meter, string instrument, bool perMessage) =>
        Assert.Equal(perMessage, SiloTelemetry.IsPerMessage(meter, instrument));
}
