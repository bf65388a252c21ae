using System.Globalization;
using System.Text.Json;
using MetaNode.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MetaNode.Tests.Backup;

/// <summary>
/// The whole round trip as a user runs it: a real embedded silo with its dev chain runs a federated job; <c>backup create</c> is
/// taken while it runs; the silo stops; <c>metanode-silo backup restore</c> puts the backup into a fresh data directory; a silo
/// started there has every record back and the chain with them, and finishes the job.
/// </summary>
public sealed class BackupRestoreTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Rounds take a fraction of a second here: enough of them that the backup lands in the middle.</summary>
    private const int Rounds = 40;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "metanode-backup-e2e", Guid.NewGuid().ToString("N")[..10]);
    private readonly List<SiloProcess> _silos = [];

    private string Original => Path.Combine(_root, "a");

    private string Fresh => Path.Combine(_root, "b");

    private static string[] Settings =>
    [
        $"--MetaNode:Chain:DevChain:AnvilPath={AnvilNode.BinaryPath}",
        "--MetaNode:Chain:ReceiptPollInterval=00:00:00.020",
        "--MetaNode:VPods:ProbeInterval=00:00:00.300",
        "--MetaNode:Capacity:Cpu=64",
        "--MetaNode:Federation:Jobs:PumpInterval=00:00:00.100",
        "--MetaNode:Federation:Jobs:RedispatchInterval=00:00:03",
    ];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        SiloProcess.KillWorkloadsUnder(Original);
        SiloProcess.KillWorkloadsUnder(Fresh);
        try
        {
            SiloProcess.DeleteSiloDirectories(Original);
            SiloProcess.DeleteSiloDirectories(Fresh);
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by an exiting process: the temporary directory is left for the OS to clean.
        }
    }

    [Fact]
    public async Task ABackupTakenWhileAJobRuns_RestoredIntoAFreshDirectory_BringsBackEveryRecordAndTheChain_AndTheJobCompletes()
    {
        var original = new SiloProcess(Original, Settings);
        _silos.Add(original);
        await original.StartAsync();
        var cli = original.Cli();

        // vPods (two of their own, one stopped), two clusters, a registry of the validators, and a job in its third round or later.
        await cli.JsonAsync("cluster", "deploy", "--name", "compute", "--count", "3", "--type", "compute", "--cpu", "1", "--memory", "200Mi");
        await cli.JsonAsync("cluster", "deploy", "--name", "validators", "--count", "3", "--type", "validator", "--cpu", "1", "--memory", "200Mi");
        var lone = Id(await cli.JsonAsync("vpod", "create", "--name", "lone", "--type", "storage", "--cpu", "100m", "--memory", "16Mi", "--command", "sh -c 'exec sleep 600'"));
        var idle = Id(await cli.JsonAsync("vpod", "create", "--name", "idle", "--type", "storage", "--cpu", "100m", "--memory", "16Mi", "--command", "sh -c 'exec sleep 600'"));
        foreach (var cluster in new[] { "compute", "validators" })
        {
            await Eventually.WaitAsync(() => cli.JsonAsync("cluster", "status", "--name", cluster), s => Text(s, "phase") == "Ready", $"{cluster} Ready", TimeSpan.FromSeconds(120));
        }

        await Eventually.WaitAsync(() => cli.StatusAsync(idle), s => Text(s, "phase") == "Running", "idle Running");
        await cli.JsonAsync("vpod", "stop", "--id", idle);
        var vpods = (await cli.JsonAsync("vpod", "list")).EnumerateArray().ToDictionary(v => Text(v, "id")!, v => Text(v, "name"));
        var specs = new Dictionary<string, string>();
        foreach (var id in vpods.Keys)
        {
            specs[id] = (await cli.StatusAsync(id)).GetProperty("spec").GetRawText();
        }

        var clusters = new Dictionary<string, (string Spec, string[] Members)>();
        foreach (var name in new[] { "compute", "validators" })
        {
            var status = await cli.JsonAsync("cluster", "status", "--name", name);
            clusters[name] = (status.GetProperty("spec").GetRawText(), Members(status));
        }

        var chainBefore = await cli.JsonAsync("chain", "deploy", "--threshold", "2");
        var registry = Hex(chainBefore, "registry")!;
        var jobId = Text(await cli.JsonAsync(
            "job", "run", "--detach", "--algorithm", "federated-average", "--compute-cluster", "compute", "--validator-cluster", "validators",
            "--dataset", "digits", "--partition", "iid", "--rounds", Rounds.ToString(CultureInfo.InvariantCulture), "--local-epochs", "1", "--batch", "16",
            "--lr", "0.1", "--min-participants", "3", "--round-deadline", "2m", "--quorum", "2", "--seed", "3"), "jobId")!;
        var jobBefore = await Eventually.WaitAsync(() => cli.JsonAsync("job", "status", "--id", jobId), s => Results(s).Count >= 2, "two rounds finalized", TimeSpan.FromMinutes(3));

        // The backup, taken while the job runs.
        var file = Path.Combine(_root, "metanode-backup.tar.gz");
        var backup = await cli.JsonAsync("backup", "create", "--out", file);
        var jobAfter = await cli.JsonAsync("job", "status", "--id", jobId);
        output.WriteLine($"backup at chain block {backup.GetProperty("chainBlock")}: job {jobId} had {Results(jobBefore).Count} rounds before, {Results(jobAfter).Count} after ({Text(jobAfter, "phase")})");
        Assert.True(Results(jobAfter).Count < Rounds, "the job ended before the backup was taken; it should still run");
        var backedUpBlock = backup.GetProperty("chainBlock").GetInt64();
        Assert.Matches("^0x[0-9a-f]{40}$", Hex(backup, "registry"));
        await original.StopAsync();

        // Restore with the silo executable into a fresh data directory; the vPods' own directories stay where they are.
        var restore = await ExternalProgram.RunAsync(
            SiloProcess.DotnetHost, [Path.Combine(AppContext.BaseDirectory, "metanode-silo.dll"), "backup", "restore", file, $"--MetaNode:DataDirectory={Fresh}"],
            AppContext.BaseDirectory, "dotnet is needed to run metanode-silo", TimeSpan.FromMinutes(2));
        output.WriteLine(restore.Stdout + restore.Stderr);
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        Assert.Contains("restored the backup of cluster 'metanode'", restore.Stdout, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"the dev chain at block {backedUpBlock}"), restore.Stdout, StringComparison.Ordinal);
        var vpodsRoot = Path.GetFullPath(Original) + "-vpods";
        Assert.Contains($"--MetaNode:Runtime:Process:DataDirectory={vpodsRoot}", restore.Stdout, StringComparison.Ordinal);

        var restored = new SiloProcess(Fresh, [.. Settings, $"--MetaNode:Runtime:Process:DataDirectory={vpodsRoot}"]);
        _silos.Add(restored);
        await restored.StartAsync();
        var again = restored.Cli();

        // The job as the backup holds it: the same spec, the rounds finalized by then with the same results.
        var jobRestored = await again.JsonAsync("job", "status", "--id", jobId);
        Assert.Equal(jobAfter.GetProperty("spec").GetRawText(), jobRestored.GetProperty("spec").GetRawText());
        var restoredRounds = Results(jobRestored);
        output.WriteLine($"the restored job has {restoredRounds.Count} rounds finalized, in phase {Text(jobRestored, "phase")}");
        // (One more than the original showed after the backup only if the chain, dumped after the database, held a round the job had
        // not recorded yet, and the restored job took it from the chain before this first look.)
        Assert.InRange(restoredRounds.Count, Results(jobBefore).Count, Results(jobAfter).Count + 1);
        var common = Math.Min(restoredRounds.Count, Results(jobAfter).Count);
        Assert.Equal(Results(jobAfter).Take(common).Select(r => Hex(r, "resultHash")), restoredRounds.Take(common).Select(r => Hex(r, "resultHash")));

        // Every vPod and cluster: ids, names, specs and members exactly.
        var vpodsRestored = (await again.JsonAsync("vpod", "list")).EnumerateArray().ToDictionary(v => Text(v, "id")!, v => Text(v, "name"));
        Assert.Equal(vpods.OrderBy(v => v.Key, StringComparer.Ordinal), vpodsRestored.OrderBy(v => v.Key, StringComparer.Ordinal));
        foreach (var (id, spec) in specs)
        {
            Assert.Equal(spec, (await again.StatusAsync(id)).GetProperty("spec").GetRawText());
        }

        foreach (var (name, (spec, members)) in clusters)
        {
            var status = await again.JsonAsync("cluster", "status", "--name", name);
            Assert.Equal(spec, status.GetProperty("spec").GetRawText());
            Assert.Equal(members, Members(status));
        }

        // The chain: the same registry, at least the backup's block, and the rounds the restored job records are on it.
        var chain = await Eventually.WaitAsync(() => again.JsonAsync("chain", "status"), s => s.GetProperty("lastBlock").GetInt64() >= backedUpBlock, $"the chain at block {backedUpBlock} or later", TimeSpan.FromSeconds(60));
        Assert.Equal(registry, Hex(chain, "registry"));
        foreach (var round in restoredRounds)
        {
            var onChain = await again.JsonAsync("chain", "round", "--job", jobId, "--round", round.GetProperty("round").GetInt32().ToString(CultureInfo.InvariantCulture));
            Assert.True(onChain.GetProperty("verified").GetBoolean());
            Assert.Equal(Hex(round, "resultHash"), Hex(onChain, "resultHash"));
        }

        // Phases as the restored silo runs them: the stopped vPod stays stopped, the rest run again, the clusters are ready.
        Assert.Equal("Stopped", Text(await again.StatusAsync(idle), "phase"));
        await Eventually.WaitAsync(() => again.StatusAsync(lone), s => Text(s, "phase") == "Running", "lone Running again", TimeSpan.FromSeconds(60));
        foreach (var name in clusters.Keys)
        {
            await Eventually.WaitAsync(() => again.JsonAsync("cluster", "status", "--name", name), s => Text(s, "phase") == "Ready", $"{name} Ready again", TimeSpan.FromSeconds(120));
        }

        // The restored silo resumes the job to its end; every round is on the restored chain.
        var done = await Eventually.WaitAsync(() => again.JsonAsync("job", "status", "--id", jobId), s => Text(s, "phase") is "Completed" or "Failed" or "Cancelled", "the job to end", TimeSpan.FromMinutes(5));
        output.WriteLine($"job {jobId}: {Text(done, "phase")} {Text(done, "reason")}");
        Assert.Equal("Completed", Text(done, "phase"));
        var rounds = Results(done);
        Assert.Equal(Enumerable.Range(1, Rounds), rounds.Select(r => r.GetProperty("round").GetInt32()));
        Assert.Equal(restoredRounds.Select(r => Hex(r, "resultHash")), rounds.Take(restoredRounds.Count).Select(r => Hex(r, "resultHash")));
        foreach (var round in rounds.Skip(restoredRounds.Count))
        {
            var onChain = await again.JsonAsync("chain", "round", "--job", jobId, "--round", round.GetProperty("round").GetInt32().ToString(CultureInfo.InvariantCulture));
            Assert.True(onChain.GetProperty("verified").GetBoolean());
            Assert.Equal(Hex(round, "resultHash"), Hex(onChain, "resultHash"));
        }
    }

    private static string Id(JsonElement status) => status.GetProperty("id").GetString()!;

    private static string? Text(JsonElement element, string property) =>
        element.GetProperty(property) is { ValueKind: not JsonValueKind.Null } value ? value.ToString() : null;

    /// <summary>A hash or address, compared without regard to case.</summary>
    private static string? Hex(JsonElement element, string property) => Text(element, property)?.ToLowerInvariant();

    private static List<JsonElement> Results(JsonElement job) => [.. job.GetProperty("results").EnumerateArray()];

    private static string[] Members(JsonElement cluster) => [.. cluster.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).Order(StringComparer.Ordinal)];
}
