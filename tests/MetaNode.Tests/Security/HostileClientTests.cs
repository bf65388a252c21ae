using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Runtime.Process;
using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Jobs;
using MetaNode.Tests.Workload;
using MetaNode.VPods;
using MetaNode.Workloads;
using Nethereum.Signer;
using Xunit.Abstractions;
using RoundResult = MetaNode.Chain.RoundResult;

namespace MetaNode.Tests.Security;

/// <summary>
/// A silo with 3 compute and 3 validator vPods (reference workloads, keys in their own key directories), a registry of the
/// validators (threshold 2) and one finalized job, for the hostile-client and key-placement tests.
/// </summary>
public sealed class TrustFixture : IAsyncLifetime
{
    private readonly AnvilFixture _anvil = new();
    private JobCluster? _cluster;

    internal JobCluster Cluster => _cluster!;

    public IReadOnlyList<string> Compute { get; private set; } = [];

    public IReadOnlyList<string> Validators { get; private set; } = [];

    public string JobId { get; } = "job-trust-" + Guid.NewGuid().ToString("N")[..6];

    public FederatedJobStatus Job { get; private set; } = null!;

    public const string InflatingCluster = "tr-inflating";

    public const string SilentCluster = "tr-silent";

    /// <summary>A compute vPod whose workload speaks no protocol (<c>sleep</c>).</summary>
    public string Silent { get; private set; } = string.Empty;

    /// <summary>A compute vPod whose workload signs receipts claiming 10^12 samples (<c>Security/inflating_workload.py</c>).</summary>
    public string Inflating { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        await _anvil.InitializeAsync();
        _cluster = await JobCluster.StartAsync(_anvil);
        var compute = _cluster.DeployClusterAsync(FederatedJobFixture.ComputeCluster, 3, VPodType.Compute);
        var validators = _cluster.DeployClusterAsync(FederatedJobFixture.ValidatorCluster, 3, VPodType.Validator);
        var inflating = _cluster.DeployClusterAsync(InflatingCluster, 1, VPodType.Compute, command: [WorkloadProcess.PythonInterpreter, Path.Combine(AppContext.BaseDirectory, "Security", "inflating_workload.py")], ports: [0]);
        Compute = await compute;
        Validators = await validators;
        Inflating = (await inflating).Single();
        Silent = (await _cluster.DeployClusterAsync(SilentCluster, 1, VPodType.Compute, command: ["/bin/sh", "-c", "exec sleep 600"])).Single();
        await _cluster.DeployRegistryAsync(threshold: 2);
        Job = await _cluster.RunAsync(JobId, FederatedJobTests.Spec(rounds: 1, minParticipants: 3), TimeSpan.FromMinutes(3));
        Assert.Equal(FederatedJobPhase.Completed, Job.Phase);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        await _anvil.DisposeAsync();
    }
}

public sealed partial class HostileClientTests(TrustFixture fixture, ITestOutputHelper output) : IClassFixture<TrustFixture>
{
    private const long ChainId = 31337;

    private static readonly string[] LastMethods = ["Delete", "Stop", "Cancel", "Leave", "Remove", "Restart"];

    [Fact]
    public async Task EveryClientReachableGrainMethod_CalledWithHostileArguments_YieldsNoVPodSignatureOverForgedContent()
    {
        var grains = fixture.Cluster.Grains;
        var statuses = await Task.WhenAll(fixture.Compute.Concat(fixture.Validators).Select(id => grains.GetGrain<IVPodGrain>(id).GetStatusAsync()));
        var vpodAddresses = statuses.Select(s => s.Address!).ToHashSet(StringComparer.OrdinalIgnoreCase);
        Assert.Equal(6, vpodAddresses.Count);
        var registries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { (await fixture.Cluster.Chain.GetRegistryAsync())! };
        var attacker = EthECKey.GenerateKey();
        var attackerAddress = attacker.GetPublicAddress().ToLowerInvariant();

        // What a hostile client wants signed: a round result nobody computed, a rotation to its own key, a receipt with an
        // inflated count, and raw bytes.
        var forgedRound = new RoundResult { JobId = fixture.JobId, Round = 1, ResultHash = "0x" + new string('1', 64), ReceiptsRoot = "0x" + new string('2', 64), ModelRef = "0x" + new string('3', 64) };
        var forgedNext = forgedRound with { Round = 2 };
        var forgedReceipt = new TrainingReceipt(fixture.JobId, 1, fixture.Compute[0], 1_000_000_000_000, "0x" + new string('4', 64));
        var forgedMessage = "forged receipt"u8.ToArray();
        var forgedUpdate = new FederatedUpdateEvent { Update = new ModelUpdate(forgedReceipt, FederatedModel.Zero(10, 64)), PublishedAt = DateTimeOffset.UtcNow };
        var stringKeys = new[] { fixture.Compute[0], fixture.Validators[0], fixture.JobId, $"{fixture.JobId}/{fixture.Validators[0]}", "default", attackerAddress };

        var interfaces = typeof(IVPodGrain).Assembly.GetTypes()
            .Where(t => t.IsInterface && typeof(IGrain).IsAssignableFrom(t) && !t.IsGenericTypeDefinition)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToList();
        Assert.Contains(typeof(IVPodGrain), interfaces);
        Assert.Contains(typeof(IChainGrain), interfaces);
        Assert.Contains(typeof(IValidatorWorkerGrain), interfaces);
        var methods = interfaces.SelectMany(i => i.GetMethods().Select(m => (Interface: i, Method: m)))
            .OrderBy(m => LastMethods.Any(prefix => m.Method.Name.StartsWith(prefix, StringComparison.Ordinal)) ? 1 : 0)
            .ThenBy(m => m.Interface.FullName, StringComparer.Ordinal)
            .ThenBy(m => m.Method.Name, StringComparer.Ordinal)
            .ToList();

        var answers = new List<string>();
        var calls = 0;
        foreach (var (type, method) in methods)
        {
            foreach (var key in KeysFor(type, stringKeys))
            {
                var grain = key switch
                {
                    string s => grains.GetGrain(type, s),
                    long l => grains.GetGrain(type, l),
                    Guid g => grains.GetGrain(type, g),
                    _ => throw new InvalidOperationException(),
                };
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                var arguments = method.GetParameters().Select(p => Hostile(p, timeout.Token)).ToArray();
                calls++;
                try
                {
                    if (await InvokeAsync(grain, method, arguments, timeout.Token) is { } answer)
                    {
                        answers.Add(JsonSerializer.Serialize(answer, answer.GetType()));
                    }
                }
                catch (Exception exception) when (exception is not (OutOfMemoryException or Xunit.Sdk.XunitException))
                {
                    // A refusal is what a hostile call should get.
                }
            }
        }

        object? Hostile(ParameterInfo parameter, CancellationToken token)
        {
            var type = parameter.ParameterType;
            var name = parameter.Name ?? string.Empty;
            return type switch
            {
                _ when type == typeof(CancellationToken) => token,
                _ when type == typeof(string) => name.Contains("address", StringComparison.OrdinalIgnoreCase) ? attackerAddress
                    : name.Contains("registry", StringComparison.OrdinalIgnoreCase) ? registries.First()
                    : name.Contains("job", StringComparison.OrdinalIgnoreCase) ? fixture.JobId
                    : fixture.Validators[0],
                _ when type == typeof(int) || type == typeof(long) => Convert.ChangeType(1, type, System.Globalization.CultureInfo.InvariantCulture),
                _ when type == typeof(bool) => false,
                _ when type == typeof(byte[]) => forgedMessage,
                _ when type == typeof(RoundResult) => forgedRound,
                _ when type == typeof(FinalizeRoundCommand) => new FinalizeRoundCommand { Round = forgedNext, SignerVPodIds = fixture.Validators, ThresholdOnly = false },
                _ when type == typeof(DeployRegistryCommand) => new DeployRegistryCommand { Validators = [fixture.Compute[0]], Threshold = 1 },
                _ when type == typeof(IReadOnlyList<string>) => (IReadOnlyList<string>)[fixture.Compute[0], fixture.Validators[0]],
                _ when type == typeof(IReadOnlyList<ValidatorSignature>) => (IReadOnlyList<ValidatorSignature>)[],
                _ when type == typeof(FederatedUpdateEvent) => forgedUpdate,
                _ when type == typeof(StopOptions) => new StopOptions(Force: true, TimeoutSeconds: 1),
                _ when type == typeof(LogQuery) => new LogQuery(),
                _ when type.IsValueType => Activator.CreateInstance(type),
                _ => type.GetConstructor(Type.EmptyTypes) is not null ? Activator.CreateInstance(type) : null,
            };
        }

        output.WriteLine($"{methods.Count} methods of {interfaces.Count} grain interfaces, {calls} hostile calls, {answers.Count} answers");
        Assert.True(methods.Count >= 40, $"only {methods.Count} methods found");

        // Every signature in any answer: none is a vPod key's signature over anything the hostile client forged.
        registries.Add((await fixture.Cluster.Chain.GetRegistryAsync())!);
        var forgedDigests = registries.SelectMany(r => new[]
            {
                RegistryTypedData.FinalizeDigest(new RegistryDomain(ChainId, r), forgedRound),
                RegistryTypedData.FinalizeDigest(new RegistryDomain(ChainId, r), forgedNext),
                RegistryTypedData.RotationDigest(new RegistryDomain(ChainId, r), [attackerAddress], 1, 1),
                RegistryTypedData.RotationDigest(new RegistryDomain(ChainId, r), [attackerAddress], 1, 2),
            })
            .Append(VPodTypedData.ReceiptDigest(forgedReceipt, ChainId))
            .Append(EthereumSignatures.PersonalMessageDigest(forgedMessage))
            .Append(EthereumSignatures.PersonalMessageDigest(ReceiptHashing.Hash(forgedReceipt)))
            .ToList();
        var signatures = answers.SelectMany(a => SignaturePattern().Matches(a).Select(m => m.Value)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        output.WriteLine($"{signatures.Count} signatures in the answers");
        foreach (var signature in signatures)
        {
            var bytes = EthereumSignatures.ParseSignature(signature)!;
            foreach (var digest in forgedDigests)
            {
                var signer = EthereumSignatures.RecoverAddress(digest, bytes);
                Assert.False(signer is not null && vpodAddresses.Contains(signer), $"vPod key {signer} signed forged content: {signature}");
            }
        }

        // And the chain holds nothing forged: round 1 is the job's own result, round 2 was never finalized.
        var round = await fixture.Cluster.Chain.GetRoundAsync(fixture.JobId, 1);
        Assert.Equal(fixture.Job.Results[0].ResultHash, round.ResultHash);
        Assert.False((await fixture.Cluster.Chain.GetRoundAsync(fixture.JobId, 2)).Finalized);
    }

    [Fact]
    public async Task Run_RejectsAndFlagsAnInflatedSampleCount_AndFinalizesTheRoundWithoutIt()
    {
        var job = "job-inflated-" + Guid.NewGuid().ToString("N")[..6];
        var spec = FederatedJobTests.Spec(rounds: 2, minParticipants: 3) with
        {
            ComputeCluster = $"{FederatedJobFixture.ComputeCluster},{TrustFixture.InflatingCluster}",
            RoundDeadline = TimeSpan.FromSeconds(6),
        };

        var status = await fixture.Cluster.RunAsync(job, spec, TimeSpan.FromMinutes(3));

        Assert.Equal(FederatedJobPhase.Completed, status.Phase);
        Assert.Equal(2, status.Results.Count);
        foreach (var result in status.Results)
        {
            Assert.Equal(fixture.Compute.Order(StringComparer.Ordinal), result.Participants);
            var flagged = Assert.Single(result.Rejected);
            Assert.Equal(fixture.Inflating, flagged.VPodId);
            Assert.Contains("1000000000000 samples", flagged.Reason, StringComparison.Ordinal);
            Assert.True(result.TotalSamples < 10_000, $"total samples {result.TotalSamples}");
            Assert.Equal(result.ResultHash, (await fixture.Cluster.Chain.GetRoundAsync(job, result.Round)).ResultHash);
        }
    }

    [Fact]
    public async Task Start_RefusesAJobNamingTheVPod_WhoseWorkloadSpeaksNoProtocol_AndRecordsNothing()
    {
        var job = "job-silent-" + Guid.NewGuid().ToString("N")[..6];
        var spec = FederatedJobTests.Spec(rounds: 1, minParticipants: 3) with { ComputeCluster = $"{FederatedJobFixture.ComputeCluster},{TrustFixture.SilentCluster}" };

        var refused = await Assert.ThrowsAsync<InvalidJobSpecException>(() => fixture.Cluster.Grains.GetGrain<IFederatedJobGrain>(job).StartAsync(spec));

        var error = Assert.Single(refused.Errors);
        Assert.Contains(fixture.Silent, error, StringComparison.Ordinal);
        Assert.Contains("workload protocol", error, StringComparison.Ordinal);
        await Assert.ThrowsAsync<JobNotFoundException>(() => fixture.Cluster.Grains.GetGrain<IFederatedJobGrain>(job).GetStatusAsync());
        Assert.Equal(VPodPhase.Running, (await fixture.Cluster.Grains.GetGrain<IVPodGrain>(fixture.Silent).GetStatusAsync()).Phase);
    }

    [Fact]
    public async Task NoVPodPrivateKey_IsInTheSilosDatabaseOrDataDirectory_WhileTheirAddressesAre()
    {
        var root = ProcessRuntimeRoot.DefaultFor(fixture.Cluster.DataDirectory);
        var files = Directory.EnumerateFiles(fixture.Cluster.DataDirectory, "*", SearchOption.AllDirectories).ToList();
        var contents = files.Select(f => (File: f, Bytes: ReadShared(f))).ToList();
        Assert.Contains(contents, c => Path.GetFileName(c.File).StartsWith("metanode.db", StringComparison.Ordinal));
        foreach (var id in fixture.Compute.Concat(fixture.Validators))
        {
            var keyFile = Path.Combine(root, "vpods", id, "key", WorkloadProtocol.KeyFileName);
            using var document = JsonDocument.Parse(File.ReadAllBytes(keyFile));
            var privateHex = document.RootElement.GetProperty("privateKey").GetString()!;
            var address = document.RootElement.GetProperty("address").GetString()!;
            var privateKey = Convert.FromHexString(privateHex[2..]);
            Assert.Equal(address, EthereumSignatures.AddressOf(privateKey));
            Assert.Equal(address, (await fixture.Cluster.Grains.GetGrain<IVPodGrain>(id).GetStatusAsync()).Address);

            var forms = new[]
            {
                privateKey,
                System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(privateKey)),
                System.Text.Encoding.ASCII.GetBytes(Convert.ToHexString(privateKey)),
                System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(privateKey)),
                System.Text.Encoding.UTF8.GetBytes(Convert.ToHexStringLower(privateKey)).SelectMany(b => new[] { b, (byte)0 }).ToArray(),
            };
            foreach (var (file, bytes) in contents)
            {
                Assert.True(forms.All(form => bytes.AsSpan().IndexOf(form) < 0), $"vPod {id}'s private key is in {file}");
            }

            // The scan reads the database: the vPod's address is there.
            Assert.Contains(contents, c => c.Bytes.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(address)) >= 0);
        }
    }

    private static byte[] ReadShared(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    private static IEnumerable<object> KeysFor(Type type, string[] stringKeys) =>
        typeof(IGrainWithStringKey).IsAssignableFrom(type) ? stringKeys
        : typeof(IGrainWithIntegerKey).IsAssignableFrom(type) ? [0L, 1L]
        : typeof(IGrainWithGuidKey).IsAssignableFrom(type) ? [Guid.Empty]
        : [];

    private static async Task<object?> InvokeAsync(object grain, MethodInfo method, object?[] arguments, CancellationToken token)
    {
        var result = method.Invoke(grain, arguments);
        switch (result)
        {
            case Task task:
                await task.WaitAsync(token);
                return task.GetType().IsGenericType ? task.GetType().GetProperty("Result")!.GetValue(task) : null;
            case ValueTask valueTask:
                await valueTask.AsTask().WaitAsync(token);
                return null;
            case null:
                return null;
        }

        var asyncEnumerable = result.GetType().GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>));
        if (asyncEnumerable is not null)
        {
            var items = new List<object?>();
            var enumerator = asyncEnumerable.GetMethod("GetAsyncEnumerator")!.Invoke(result, [token])!;
            var moveNext = enumerator.GetType().GetInterfaces().Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerator<>)).GetMethod("MoveNextAsync")!;
            var current = enumerator.GetType().GetInterfaces().Single(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerator<>)).GetProperty("Current")!;
            try
            {
                while (items.Count < 20 && await ((ValueTask<bool>)moveNext.Invoke(enumerator, [])!).AsTask().WaitAsync(token))
                {
                    items.Add(current.GetValue(enumerator));
                }
            }
            finally
            {
                await ((IAsyncDisposable)enumerator).DisposeAsync();
            }

            return items;
        }

        return result;
    }

    [GeneratedRegex("0x[0-9a-fA-F]{130}(?![0-9a-fA-F])")]
    private static partial Regex SignaturePattern();
}
