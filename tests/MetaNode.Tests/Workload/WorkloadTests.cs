using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Runtime;
using MetaNode.Tests.Federation;
using MetaNode.Workload;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Tests.Workload;

public sealed class WorkloadTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(20);

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"metanode-workload-{Guid.NewGuid():N}");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private string KeyDirectory => Path.Combine(_root, "key");

    private string DataDirectory => Path.Combine(_root, "data");

    public void Dispose()
    {
        _http.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Workload_ServesProtocolLogsRequestsAndExitsZero_OnSigterm()
    {
        var port = LoopbackPorts.Free();
        await using var workload = WorkloadProcess.Start(new Dictionary<string, string?>
        {
            [WorkloadProtocol.HostVariable] = "127.0.0.1",
            [WorkloadProtocol.PortVariable] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [WorkloadProtocol.VPodIdVariable] = "vpod-0badc0de",
            [WorkloadProtocol.DataDirectoryVariable] = DataDirectory,
            [WorkloadProtocol.KeyDirectoryVariable] = KeyDirectory,
        });

        var started = await workload.WaitForLineAsync(l => l.Contains("listening on", StringComparison.Ordinal), "its start-up line", StartTimeout);
        var key = VPodKeyFile.Load(VPodKeyFile.PathIn(KeyDirectory));
        Assert.Contains("vpod-0badc0de", started);
        Assert.Contains($"127.0.0.1:{port}", started);
        Assert.Contains(key.Address, started);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };
        using var health = await http.GetAsync(new Uri(WorkloadProtocol.HealthPath, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using (var body = JsonDocument.Parse(await health.Content.ReadAsStringAsync()))
        {
            Assert.Equal("ok", body.RootElement.GetProperty("status").GetString());
            Assert.Equal("vpod-0badc0de", body.RootElement.GetProperty("vpodId").GetString());
            Assert.Equal(2, body.RootElement.GetProperty("protocol").GetInt32());
            Assert.True(body.RootElement.GetProperty("uptimeSeconds").GetDouble() >= 0);
        }

        using var train = await http.PostAsJsonAsync(new Uri(WorkloadProtocol.TrainPath, UriKind.Relative), new { job = "j", round = 1 });
        Assert.Equal(HttpStatusCode.BadRequest, train.StatusCode);
        Assert.Contains("hyperParameters", (await train.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        using var evaluate = await http.PostAsync(new Uri(WorkloadProtocol.EvaluatePath, UriKind.Relative), new StringContent("{}"));
        Assert.Equal(HttpStatusCode.Conflict, evaluate.StatusCode);
        Assert.Contains("manifest.json", (await evaluate.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        using var v1 = await http.PostAsync(new Uri("/v1/statistics", UriKind.Relative), new StringContent("{}"));
        Assert.Equal(HttpStatusCode.NotFound, v1.StatusCode);

        await workload.WaitForLineAsync(l => l.Contains("GET /healthz 200 ", StringComparison.Ordinal) && l.Contains("ms", StringComparison.Ordinal), "a log line for GET /healthz", LineTimeout);
        await workload.WaitForLineAsync(l => l.Contains("POST /v2/train 400 ", StringComparison.Ordinal), "a log line for POST /v2/train", LineTimeout);

        workload.Terminate();
        Assert.Equal(0, await workload.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        var privateKey = JsonNode.Parse(File.ReadAllText(VPodKeyFile.PathIn(KeyDirectory)))!["privateKey"]!.GetValue<string>();
        Assert.DoesNotContain(workload.Lines, l => l.Contains(privateKey[2..], StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Workload_ExitsWithErrorNamingVariable_WhenPortIsInvalid()
    {
        await using var workload = WorkloadProcess.Start(new Dictionary<string, string?>
        {
            [WorkloadProtocol.PortVariable] = "eighty",
        });

        var exitCode = await workload.WaitForExitAsync(StartTimeout);

        Assert.NotEqual(0, exitCode);
        Assert.Contains(workload.Lines, l => l.Contains(WorkloadProtocol.PortVariable, StringComparison.Ordinal) && l.Contains("eighty", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Workload_Exits2NamingTheKeyFile_WhenItsAddressIsNotItsKeys()
    {
        var key = VPodKeyFile.Generate();
        Directory.CreateDirectory(KeyDirectory);
        File.WriteAllText(VPodKeyFile.PathIn(KeyDirectory), $$"""{"address":"0x{{new string('1', 40)}}","privateKey":"{{PrivateKeyOf(key)}}"}""");
        await using var workload = WorkloadProcess.Start(new Dictionary<string, string?>
        {
            [WorkloadProtocol.PortVariable] = LoopbackPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture),
            [WorkloadProtocol.KeyDirectoryVariable] = KeyDirectory,
            [WorkloadProtocol.DataDirectoryVariable] = DataDirectory,
        });

        var exitCode = await workload.WaitForExitAsync(StartTimeout);

        Assert.Equal(2, exitCode);
        Assert.Contains(workload.Lines, l => l.Contains(WorkloadProtocol.KeyFileName, StringComparison.Ordinal) && l.Contains(key.Address, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{\"address\":")]
    [InlineData("{\"address\":\"0x00\",\"privateKey\":\"0x1234\"}")]
    [InlineData("{\"address\":\"0x0000000000000000000000000000000000000000\",\"privateKey\":\"0x0000000000000000000000000000000000000000000000000000000000000000\"}")]
    public void KeyFile_StopsTheWorkloadNamingTheFile_WhenItIsNotAKey(string content)
    {
        Directory.CreateDirectory(KeyDirectory);
        File.WriteAllText(VPodKeyFile.PathIn(KeyDirectory), content);

        var error = Assert.Throws<InvalidVPodKeyException>(() => WorkloadApp.Create(Settings()));

        Assert.Contains(VPodKeyFile.PathIn(KeyDirectory), error.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(VPodKeyFile.PathIn(KeyDirectory)));
    }

    [Fact]
    public async Task KeyFile_IsCreatedWithMode0600InA0700Directory_AndReusedAfterARestart()
    {
        string firstAddress;
        await using (var first = await InProcessWorkload.StartAsync("vpod-key", DataDirectory, KeyDirectory))
        {
            firstAddress = first.Address;
            Assert.Equal(firstAddress, (await ProveAsync(first, "vpod-key")).Address);
        }

        var path = VPodKeyFile.PathIn(KeyDirectory);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(KeyDirectory));
        }

        var document = JsonNode.Parse(File.ReadAllText(path))!;
        Assert.Equal(firstAddress, document["address"]!.GetValue<string>());
        Assert.Matches("^0x[0-9a-f]{64}$", document["privateKey"]!.GetValue<string>());
        Assert.Equal([WorkloadProtocol.KeyFileName], Directory.GetFiles(KeyDirectory).Select(Path.GetFileName));

        await using var restarted = await InProcessWorkload.StartAsync("vpod-key", DataDirectory, KeyDirectory);
        Assert.Equal(firstAddress, restarted.Address);
        Assert.Equal(firstAddress, (await ProveAsync(restarted, "vpod-key")).Address);
        Assert.NotEqual(firstAddress, VPodKeyFile.Generate().Address);
    }

    [Fact]
    public async Task Identity_SignsTheChallengeWithTheVPodsOwnKey_WhenAskedForItsOwnVPod()
    {
        await using var workload = await InProcessWorkload.StartAsync("vpod-id", DataDirectory, KeyDirectory);
        var nonce = RandomNonce();

        var proof = await ProveAsync(workload, "vpod-id", nonce, chainId: 5);

        Assert.Equal("vpod-id", proof.VPodId);
        Assert.Equal(workload.Address, proof.Address);
        Assert.Equal(workload.Address, VPodTypedData.RecoverIdentity("vpod-id", nonce, 5, proof.Signature));
        Assert.NotEqual(workload.Address, VPodTypedData.RecoverIdentity("vpod-id", nonce, 6, proof.Signature));
    }

    [Theory]
    [InlineData("vpod-other", "0x", 1, "vpodId")]
    [InlineData("vpod-id", "0x12", 1, "nonce")]
    [InlineData("vpod-id", null, -1, "chainId")]
    public async Task Identity_Answers400NamingTheField_WhenTheChallengeIsNotForThisVPodOrMalformed(string vpodId, string? nonce, long chainId, string field)
    {
        await using var workload = await InProcessWorkload.StartAsync("vpod-id", DataDirectory, KeyDirectory);
        var request = new IdentityRequest(vpodId, nonce is null or "0x" ? FederationHashing.ToHex(RandomNonce()) : nonce, chainId);

        using var response = await PostAsync(workload, WorkloadProtocol.IdentityPath, request, WorkloadJson.Default.IdentityRequest);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(field, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Data_WritesEveryFileInOrder_WhenTheNamesArePlain()
    {
        await using var workload = await InProcessWorkload.StartAsync("vpod-data", DataDirectory, KeyDirectory);
        Directory.CreateDirectory(DataDirectory);
        File.WriteAllText(Path.Combine(DataDirectory, "train.csv"), "old\n");
        var request = new DataRequest([File64("train.csv", "1,2,0\n"), File64("manifest.json", "{}")]);

        using var response = await PostAsync(workload, WorkloadProtocol.DataPath, request, WorkloadJson.Default.DataRequest);
        var answer = JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), WorkloadJson.Default.DataResponse);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new DataResponse("vpod-data", 2, 8), answer);
        Assert.Equal("1,2,0\n", File.ReadAllText(Path.Combine(DataDirectory, "train.csv")));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(DataDirectory, "manifest.json")));
        Assert.Equal(["manifest.json", "train.csv"], Directory.GetFiles(DataDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("sub/x")]
    [InlineData(".hidden")]
    [InlineData("")]
    [InlineData("x\n")]
    public async Task Data_Answers400AndWritesNothing_WhenAnyNameIsNotPlain(string name)
    {
        await using var workload = await InProcessWorkload.StartAsync("vpod-data", DataDirectory, KeyDirectory);
        var request = new DataRequest([File64("first.csv", "1\n"), File64(name, "x")]);

        using var response = await PostAsync(workload, WorkloadProtocol.DataPath, request, WorkloadJson.Default.DataRequest);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("files[1].name", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(DataDirectory, "first.csv")), "a refused placement wrote its first file");
        Assert.False(File.Exists(Path.Combine(_root, "x")), "a refused placement wrote outside the data directory");
    }

    [Fact]
    public async Task Aggregate_RefusesAnotherDigestForASignedRound_AfterTheWorkloadRestarts()
    {
        var request = GoldenAggregate();
        AggregateResponse first;
        await using (var workload = await InProcessWorkload.StartAsync(WorkloadGoldenVectorTests.VPodId, DataDirectory, KeyDirectory))
        {
            first = await AggregateAsync(workload, request);
            Assert.Equal(workload.Address, first.Signer);
        }

        var log = File.ReadAllLines(Path.Combine(KeyDirectory, WorkloadProtocol.SignedRoundsFileName));
        var record = JsonSerializer.Deserialize(Assert.Single(log), WorkloadJson.Default.SignedRoundRecord)!;
        Assert.Equal((request.ChainId, request.Registry, request.Job, request.Round), (record.ChainId, record.Registry, record.Job, record.Round));

        await using var restarted = await InProcessWorkload.StartAsync(WorkloadGoldenVectorTests.VPodId, DataDirectory, KeyDirectory);
        var other = request with { Updates = [.. request.Updates.Where(u => u.Receipt.VPod != "vpod-golden04")] };
        using var refused = await PostAsync(restarted, WorkloadProtocol.AggregatePath, other, WorkloadJson.Default.AggregateRequest);
        var error = await refused.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains($"already signed another result for job {request.Job} round {request.Round} on registry {request.Registry} (digest {record.Digest})", error, StringComparison.Ordinal);
        Assert.Single(File.ReadAllLines(Path.Combine(KeyDirectory, WorkloadProtocol.SignedRoundsFileName)));

        var again = await AggregateAsync(restarted, request);
        Assert.Equal(first.Signature, again.Signature);
        Assert.Equal(first.ResultHash, again.ResultHash);
        Assert.Single(File.ReadAllLines(Path.Combine(KeyDirectory, WorkloadProtocol.SignedRoundsFileName)));
    }

    [Fact]
    public async Task Aggregate_SignsExactlyOneOfTwoDifferentResults_WhenTheyArriveConcurrently()
    {
        var request = GoldenAggregate();
        var other = request with { Updates = [.. request.Updates.Where(u => u.Receipt.VPod != "vpod-golden02")] };
        await using var workload = await InProcessWorkload.StartAsync(WorkloadGoldenVectorTests.VPodId, DataDirectory, KeyDirectory);

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            PostAsync(workload, WorkloadProtocol.AggregatePath, i % 2 == 0 ? request : other, WorkloadJson.Default.AggregateRequest)));

        var statuses = responses.Select(r => r.StatusCode).ToList();
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.Equal(4, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(4, statuses.Count(s => s == HttpStatusCode.Conflict));
        Assert.True(statuses.Where((_, i) => i % 2 == 0).Distinct().Count() == 1, $"one request's copies were answered differently: {string.Join(", ", statuses)}");
        Assert.Single(File.ReadAllLines(Path.Combine(KeyDirectory, WorkloadProtocol.SignedRoundsFileName)));
    }

    [Theory]
    [InlineData(null, null, null, null, "127.0.0.1", 8080, "unknown", "/vpod/data", "/vpod/key")]
    [InlineData("0.0.0.0", "9000", "vpod-1", "/srv/vpods/vpod-1/data", "0.0.0.0", 9000, "vpod-1", "/srv/vpods/vpod-1/data", "/vpod/key")]
    [InlineData("localhost", "0", " ", " ", "localhost", 0, "unknown", "/vpod/data", "/vpod/key")]
    [InlineData(null, null, "vpod-2", null, "127.0.0.1", 8080, "vpod-2", "/vpod/data", "/srv/vpods/vpod-2/key")]
    public void Settings_ReadEnvironmentWithDefaults(string? host, string? port, string? id, string? dataDirectory, string expectedHost, int expectedPort, string expectedId, string expectedDataDirectory, string expectedKeyDirectory)
    {
        var variables = new Dictionary<string, string?>
        {
            [WorkloadProtocol.HostVariable] = host,
            [WorkloadProtocol.PortVariable] = port,
            [WorkloadProtocol.VPodIdVariable] = id,
            [WorkloadProtocol.DataDirectoryVariable] = dataDirectory,
            [WorkloadProtocol.KeyDirectoryVariable] = expectedKeyDirectory == "/vpod/key" ? null : expectedKeyDirectory,
        };

        var settings = WorkloadSettings.FromEnvironment(name => variables.GetValueOrDefault(name));

        Assert.Equal(expectedHost, settings.Host);
        Assert.Equal(expectedPort, settings.Port);
        Assert.Equal(expectedId, settings.VPodId);
        Assert.Equal(expectedDataDirectory, settings.DataDirectory);
        Assert.Equal(expectedKeyDirectory, settings.KeyDirectory);
    }

    [Theory]
    [InlineData(WorkloadProtocol.HostVariable, "not an address")]
    [InlineData(WorkloadProtocol.PortVariable, "65536")]
    [InlineData(WorkloadProtocol.PortVariable, "-1")]
    public void Settings_ThrowNamingVariable_WhenValueIsInvalid(string variable, string value)
    {
        var error = Assert.Throws<FormatException>(() => WorkloadSettings.FromEnvironment(name => name == variable ? value : null));

        Assert.Contains(variable, error.Message);
        Assert.Contains(value, error.Message);
    }

    private WorkloadSettings Settings() => new("127.0.0.1", IPAddress.Loopback, 0, "vpod-key", DataDirectory, KeyDirectory);

    private static AggregateRequest GoldenAggregate() =>
        JsonSerializer.Deserialize(WorkloadGoldenVectorTests.GoldenVectors.Build("aggregate.json")["request"]!.ToJsonString(), WorkloadJson.Default.AggregateRequest)!;

    private static string PrivateKeyOf(VPodKey key)
    {
        var path = Path.Combine(Path.GetTempPath(), $"metanode-keyfile-{Guid.NewGuid():N}.json");
        try
        {
            VPodKeyFile.WriteNew(path, key);
            return JsonNode.Parse(File.ReadAllText(path))!["privateKey"]!.GetValue<string>();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] RandomNonce() => System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);

    private static DataFileDto File64(string name, string content) => new(name, Convert.ToBase64String(Encoding.UTF8.GetBytes(content)));

    private async Task<IdentityResponse> ProveAsync(InProcessWorkload workload, string vpodId, byte[]? nonce = null, long chainId = 1)
    {
        using var response = await PostAsync(workload, WorkloadProtocol.IdentityPath, new IdentityRequest(vpodId, FederationHashing.ToHex(nonce ?? RandomNonce()), chainId), WorkloadJson.Default.IdentityRequest);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonSerializer.Deserialize(await response.Content.ReadAsStringAsync(), WorkloadJson.Default.IdentityResponse)!;
    }

    private async Task<AggregateResponse> AggregateAsync(InProcessWorkload workload, AggregateRequest request)
    {
        using var response = await PostAsync(workload, WorkloadProtocol.AggregatePath, request, WorkloadJson.Default.AggregateRequest);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {text}");
        return JsonSerializer.Deserialize(text, WorkloadJson.Default.AggregateResponse)!;
    }

    private async Task<HttpResponseMessage> PostAsync<T>(InProcessWorkload workload, string path, T body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body, type), Encoding.UTF8, "application/json");
        return await _http.PostAsync(new Uri(workload.Endpoint, path), content);
    }
}
