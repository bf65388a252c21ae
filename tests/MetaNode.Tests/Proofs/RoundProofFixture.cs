using System.Globalization;
using System.Text.Json;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Storage;

namespace MetaNode.Tests.Proofs;

/// <summary>
/// One embedded silo on its dev chain that ran two real jobs with a storage cluster — federated averaging (2 rounds) and secure
/// aggregation (1 round) over 3 compute and 3 validator vPods, registry threshold 2 — and the proofs <c>proof export</c> wrote of them.
/// </summary>
public sealed class RoundProofFixture : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "metanode-proofs", Guid.NewGuid().ToString("N")[..10]);

    public SiloProcess Silo { get; private set; } = null!;

    public CliRunner Cli => Silo.Cli();

    public string Scratch => Path.Combine(_dataDirectory, "scratch");

    public string RpcUrl { get; private set; } = string.Empty;

    public string Registry { get; private set; } = string.Empty;

    public string FederatedJob { get; private set; } = string.Empty;

    public string SecureJob { get; private set; } = string.Empty;

    /// <summary>Round 2 of the federated-average job, model embedded.</summary>
    public string FederatedBundle => Path.Combine(Scratch, "fedavg-2.json");

    /// <summary>Round 1 of the federated-average job, exported without the model (a verifier fetches it from the gateway).</summary>
    public string BundleWithoutModel => Path.Combine(Scratch, "fedavg-1-by-cid.json");

    /// <summary>Round 1 of the secure-aggregation job, model embedded.</summary>
    public string SecureBundle => Path.Combine(Scratch, "secagg-1.json");

    /// <summary>Round 1 of a job over 3,300 features: a model of 264,092 bytes, two chunks under a dag-pb root.</summary>
    public string WideBundle => Path.Combine(Scratch, "wide-1.json");

    /// <summary>The JavaScript verifier in examples/proof-verifier (ethers, @ipld/car, ipfs-unixfs-exporter), pinned by its lockfile.</summary>
    public static NodePackage JavaScriptVerifier { get; } = new(Path.Combine(IpfsReference.RepositoryRoot, "examples", "proof-verifier"), "ethers");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Scratch);
        Silo = new SiloProcess(
            _dataDirectory,
            $"--MetaNode:Chain:DevChain:AnvilPath={AnvilNode.BinaryPath}",
            "--MetaNode:Chain:ReceiptPollInterval=00:00:00.020",
            "--MetaNode:VPods:ProbeInterval=00:00:00.300",
            "--MetaNode:Capacity:Cpu=64",
            "--MetaNode:Federation:Jobs:PumpInterval=00:00:00.100");
        await Silo.StartAsync();
        await Task.WhenAll(
            DeployAsync("store", 3, "storage"),
            DeployAsync("compute", 3, "compute", "--cpu", "1"),
            DeployAsync("validators", 3, "validator", "--cpu", "1"));
        var chain = await Cli.JsonAsync("chain", "deploy", "--threshold", "2");
        Registry = chain.GetProperty("registry").GetString()!.ToLowerInvariant();
        RpcUrl = chain.GetProperty("rpcUrl").GetString()!;

        FederatedJob = await RunJobAsync("federated-average", rounds: 2);
        SecureJob = await RunJobAsync("secure-aggregation", rounds: 1);
        var wide = Path.Combine(Scratch, "wide.csv");
        await File.WriteAllTextAsync(wide, StorageRecordsSiloTests.WideCsv(rows: 200, features: 3300));
        var wideJob = await RunJobAsync("federated-average", rounds: 1, dataset: wide);
        await Cli.JsonAsync("proof", "export", "--job", FederatedJob, "--round", "2", "--out", FederatedBundle);
        await Cli.JsonAsync("proof", "export", "--job", FederatedJob, "--round", "1", "--out", BundleWithoutModel, "--without-model");
        await Cli.JsonAsync("proof", "export", "--job", SecureJob, "--round", "1", "--out", SecureBundle);
        await Cli.JsonAsync("proof", "export", "--job", wideJob, "--round", "1", "--out", WideBundle);
    }

    public async Task DisposeAsync()
    {
        await Silo.DisposeAsync();
        SiloProcess.KillWorkloadsUnder(_dataDirectory);
        try
        {
            SiloProcess.DeleteSiloDirectories(_dataDirectory);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    /// <summary>Runs the .NET verifier (<c>metanode-cli proof verify</c>, no silo needed) on a bundle.</summary>
    public Task<CliRunner.Result> VerifyWithCliAsync(string bundle, params string[] extra) =>
        new CliRunner().RunAsync(["proof", "verify", bundle, "--rpc-url", RpcUrl, .. extra]);

    /// <summary>Runs the JavaScript verifier on a bundle.</summary>
    public async Task<CliRunner.Result> VerifyWithJavaScriptAsync(string bundle, params string[] extra)
    {
        var (code, stdout, stderr) = await JavaScriptVerifier.NodeAsync("verify.mjs", [bundle, "--rpc-url", RpcUrl, .. extra]);
        return new CliRunner.Result(code, stdout, stderr);
    }

    /// <summary>A copy of a bundle with one change, written next to it.</summary>
    public string Variant(string bundle, string name, Action<System.Text.Json.Nodes.JsonObject> change)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(bundle))!.AsObject();
        change(json);
        var path = Path.Combine(Scratch, $"{Path.GetFileNameWithoutExtension(bundle)}.{name}.json");
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    private async Task<string> RunJobAsync(string algorithm, int rounds, string dataset = "digits")
    {
        var run = await Cli.JsonAsync(
            "job", "run", "--algorithm", algorithm, "--compute-cluster", "compute", "--validator-cluster", "validators", "--storage-cluster", "store",
            "--dataset", dataset, "--rounds", rounds.ToString(CultureInfo.InvariantCulture), "--local-epochs", "1", "--quorum", "2", "--round-deadline", "60s");
        var jobId = run.GetProperty("jobId").GetString()!;
        var status = await Cli.JsonAsync("job", "status", "--id", jobId);
        Assert.Equal("Completed", status.GetProperty("phase").GetString());
        return jobId;
    }

    private async Task DeployAsync(string name, int count, string type, params string[] extra)
    {
        await Cli.JsonAsync(["cluster", "deploy", "--name", name, "--count", count.ToString(CultureInfo.InvariantCulture), "--type", type, "--memory", "200Mi", .. extra]);
        await Eventually.WaitAsync(
            () => Cli.JsonAsync("cluster", "status", "--name", name),
            s => s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("phase").GetString() == "Running") == count,
            $"{count} running members of {name}",
            TimeSpan.FromSeconds(120));
    }
}
