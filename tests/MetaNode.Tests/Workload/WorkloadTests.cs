using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MetaNode.Workload;
using Xunit;

namespace MetaNode.Tests.Workload;

public sealed class WorkloadTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Workload_ServesProtocolLogsRequestsAndExitsZero_OnSigterm()
    {
        var port = WorkloadProcess.FreeLoopbackPort();
        await using var workload = WorkloadProcess.Start(new Dictionary<string, string?>
        {
            [WorkloadSettings.HostVariable] = "127.0.0.1",
            [WorkloadSettings.PortVariable] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [WorkloadSettings.VPodIdVariable] = "vpod-0badc0de",
        });

        var started = await workload.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), "its start-up line", StartTimeout);
        Assert.Contains("vpod-0badc0de", started);
        Assert.Contains($"127.0.0.1:{port}", started);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        using var health = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using (var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync()))
        {
            Assert.Equal("ok", body.RootElement.GetProperty("status").GetString());
            Assert.Equal("vpod-0badc0de", body.RootElement.GetProperty("vpodId").GetString());
            Assert.True(body.RootElement.GetProperty("uptimeSeconds").GetDouble() >= 0);
        }

        using var train = await http.PostAsJsonAsync(new Uri("/v1/train", UriKind.Relative), new { job = "j", round = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, train.StatusCode);
        Assert.Contains("hyperParameters", (await train.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        using var evaluate = await http.PostAsync(new Uri("/v1/evaluate", UriKind.Relative), new StringContent("{}"));
        Assert.Equal(HttpStatusCode.Conflict, evaluate.StatusCode);
        Assert.Contains("manifest.json", (await evaluate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        await workload.WaitForLineAsync(l => l.Contains("GET /healthz 200 ", StringComparison.Ordinal) && l.Contains("ms", StringComparison.Ordinal), "a log line for GET /healthz", LineTimeout);
        await workload.WaitForLineAsync(l => l.Contains("POST /v1/train 400 ", StringComparison.Ordinal), "a log line for POST /v1/train", LineTimeout);

        workload.Terminate();
        Assert.Equal(0, await workload.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Workload_ExitsWithErrorNamingVariable_WhenPortIsInvalid()
    {
        await using var workload = WorkloadProcess.Start(new Dictionary<string, string?>
        {
            [WorkloadSettings.PortVariable] = "eighty",
        });

        var exitCode = await workload.WaitForExitAsync(StartTimeout);

        Assert.NotEqual(0, exitCode);
        Assert.Contains(workload.Lines, l => l.Contains(WorkloadSettings.PortVariable, StringComparison.Ordinal) && l.Contains("eighty", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, null, null, "127.0.0.1", 8080, "unknown", null, "/vpod/data")]
    [InlineData("0.0.0.0", "9000", "vpod-1", "0.0.0.0", 9000, "vpod-1", "/srv/vpods/vpod-1/data", "/srv/vpods/vpod-1/data")]
    [InlineData("localhost", "0", " ", "localhost", 0, "unknown", " ", "/vpod/data")]
    public void Settings_ReadEnvironmentWithDefaults(string? host, string? port, string? id, string expectedHost, int expectedPort, string expectedId, string? dataDirectory, string expectedDataDirectory)
    {
        var variables = new Dictionary<string, string?>
        {
            [WorkloadSettings.HostVariable] = host,
            [WorkloadSettings.PortVariable] = port,
            [WorkloadSettings.VPodIdVariable] = id,
            [WorkloadSettings.DataDirectoryVariable] = dataDirectory,
        };

        var settings = WorkloadSettings.FromEnvironment(name => variables.GetValueOrDefault(name));

        Assert.Equal(expectedHost, settings.Host);
        Assert.Equal(expectedPort, settings.Port);
        Assert.Equal(expectedId, settings.VPodId);
        Assert.Equal(expectedDataDirectory, settings.DataDirectory);
    }

    [Theory]
    [InlineData(WorkloadSettings.HostVariable, "not an address")]
    [InlineData(WorkloadSettings.PortVariable, "65536")]
    [InlineData(WorkloadSettings.PortVariable, "-1")]
    public void Settings_ThrowNamingVariable_WhenValueIsInvalid(string variable, string value)
    {
        var error = Assert.Throws<FormatException>(() => WorkloadSettings.FromEnvironment(name => name == variable ? value : null));

        Assert.Contains(variable, error.Message);
        Assert.Contains(value, error.Message);
    }
}
