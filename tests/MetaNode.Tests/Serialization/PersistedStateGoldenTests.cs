using System.Reflection;
using System.Text;
using MetaNode.Grains.VPods;
using MetaNode.Silo.Hosting;
using MetaNode.Storage;
using MetaNode.Tests.Workload;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace MetaNode.Tests.Serialization;

/// <summary>
/// Golden bytes of every persisted grain state (<c>tests/golden/persisted-state/&lt;TypeName&gt;.hex</c>). Each state is built fully
/// populated from fixed values, stored through the same <see cref="OrleansGrainStorageSerializer"/> the silo gives its SQLite and
/// PostgreSQL providers, and compared byte for byte with its file; each file is also read back and compared member by member with
/// the built state. A renumbered, retyped or dropped <c>[Id]</c> on any of these types changes the bytes or what they read back as,
/// and so breaks every record already stored: such a change needs a migration, not a regenerated file. With
/// <c>METANODE_REGENERATE_GOLDEN=1</c> the tests write the files instead of comparing (CI never sets it).
/// <para>The states (grain, storage name) and the contracts stored inside them:</para>
/// <list type="bullet">
/// <item>AccessState (AccessGrain, access): IdentityRecord, AccessRole.</item>
/// <item>VPodRegistryState (VPodRegistryGrain, registry): VPodSummary, VPodType, DeploymentMethod, VPodPhase, VPodHealth.</item>
/// <item>VPodState (VPodGrain, vpod): VPodSpec, VolumeMount, StorageRequest, NetworkPolicySpec, RestartPolicy, RuntimeHandle,
/// VPodTransition, VPodTrigger, VPodType, DeploymentMethod, VPodPhase, VPodHealth.</item>
/// <item>DbLockState (DbLockGrain, dblock): LockRecord.</item>
/// <item>StorageState (StorageGrain, storage): StoredBlock, Multicodec, PinRecord.</item>
/// <item>FederatedJobState (FederatedJobGrain, job): FederatedJobSpec, FederatedAlgorithm, PartitionScheme, PartitionKind,
/// AggregationRule, AggregationKind, ServerOptimizer, ServerOptimizerKind, FederatedJobPhase, Standardization, FederatedUpdateEvent,
/// ModelUpdate, TrainingReceipt, FederatedModel, TrainingMetrics, ValidatorVote, RejectedUpdate, RoundEvaluation,
/// Federation.RoundResult, Chain.ValidatorSignature, RoundTimings.</item>
/// <item>ValidatorWorkerState (ValidatorWorkerGrain, validator): ValidatorAssignment, Standardization, AggregationRule, AggregationKind.</item>
/// <item>FederatedDatasetState (FederatedDatasetGrain, dataset) and FederatedModelState (FederatedModelGrain, model): bytes only.</item>
/// <item>FederatedJobHistoryState (FederatedJobHistoryGrain, history): Federation.RoundResult and RoundTimings, as in FederatedJobState.</item>
/// <item>FederatedJobRegistryState (FederatedJobRegistryGrain, jobs): FederatedJobSummary, FederatedJobPhase.</item>
/// <item>VPodClusterState (VPodClusterGrain, cluster): ClusterSpec, ClusterQuota, AggregationAlgorithm, StorageRequest,
/// NetworkPolicySpec, RestartPolicy, VPodType, DeploymentMethod, ClusterPhase, ClusterMemberRecord.</item>
/// <item>VPodClusterRegistryState (VPodClusterRegistryGrain, clusters): ClusterSummary, ClusterPhase, VPodType, DeploymentMethod.</item>
/// <item>LeaderLeaseState (LeaderLeaseGrain, lease): LeaseSnapshot, LeaderChange.</item>
/// <item>PlacementLedgerState (PlacementLedgerGrain, ledger): Reservation, PlacementRequest, VPodType, SiloCapacity (and Orleans' SiloAddress).</item>
/// <item>ChainAccountState (ChainAccountGrain, account): PendingTransaction (an ordinal-keyed dictionary).</item>
/// <item>ChainWatcherState (ChainWatcherGrain, watcher): WatchedBlock, Chain.RoundFinalizedEvent.</item>
/// <item>ChainGrainState (ChainGrain, chain): strings and numbers only.</item>
/// </list>
/// </summary>
public sealed class PersistedStateGoldenTests
{
    private const int HexLineLength = 128;

    private static readonly IServiceProvider Services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(VPodSpec).Assembly).AddAssembly(typeof(VPodState).Assembly))
        .BuildServiceProvider();

    private static readonly OrleansGrainStorageSerializer Storage = new(Services.GetRequiredService<Serializer>());

    private static readonly IReadOnlyList<StateCase> Cases =
    [
        Case(PersistedStateBuilders.Access),
        Case(PersistedStateBuilders.VPodRegistry),
        Case(PersistedStateBuilders.VPod),
        Case(PersistedStateBuilders.DbLock),
        Case(PersistedStateBuilders.Storage),
        Case(PersistedStateBuilders.FederatedJob),
        Case(PersistedStateBuilders.ValidatorWorker),
        Case(PersistedStateBuilders.FederatedDataset),
        Case(PersistedStateBuilders.FederatedModel),
        Case(PersistedStateBuilders.FederatedJobHistory),
        Case(PersistedStateBuilders.FederatedJobRegistry),
        Case(PersistedStateBuilders.VPodCluster),
        Case(PersistedStateBuilders.VPodClusterRegistry),
        Case(PersistedStateBuilders.LeaderLease),
        Case(PersistedStateBuilders.PlacementLedger),
        Case(PersistedStateBuilders.ChainAccount),
        Case(PersistedStateBuilders.ChainWatcher),
        Case(PersistedStateBuilders.Chain),
    ];

    private static bool Regenerating => Environment.GetEnvironmentVariable(WorkloadGoldenVectorTests.RegenerateVariable) == "1";

    public static TheoryData<string> States => [.. Cases.Select(c => c.Type.Name)];

    [Theory]
    [MemberData(nameof(States))]
    public void StoredBytes_MatchTheGoldenFile_ForEachPersistedState(string state)
    {
        var @case = CaseNamed(state);
        var bytes = @case.Store(@case.Build());
        Assert.True(bytes.AsSpan().SequenceEqual(@case.Store(@case.Build())), $"{state}: two builds stored different bytes; the builder must use fixed values only.");
        var path = GoldenFiles.PathOf(@case.Type);

        if (Regenerating)
        {
            GoldenFiles.Write(path, bytes);
            return;
        }

        Assert.True(File.Exists(path), $"{state}: {GoldenFiles.Describe(path)} is missing; write it with {WorkloadGoldenVectorTests.RegenerateVariable}=1.");
        var golden = GoldenFiles.Read(path);
        Assert.True(golden.AsSpan().SequenceEqual(bytes), $"{state}: the stored bytes differ from {GoldenFiles.Describe(path)}. {FirstDifference(golden, bytes)} "
            + "Records already stored in this shape would no longer read back: restore the [Id]s and types, or migrate the stored records and then regenerate the file.");
    }

    [Theory]
    [MemberData(nameof(States))]
    public void GoldenBytes_ReadBackFieldByField_ForEachPersistedState(string state)
    {
        var @case = CaseNamed(state);
        var expected = @case.Build();
        var path = GoldenFiles.PathOf(@case.Type);
        Assert.True(Regenerating || File.Exists(path), $"{state}: {GoldenFiles.Describe(path)} is missing; write it with {WorkloadGoldenVectorTests.RegenerateVariable}=1.");
        var golden = Regenerating ? @case.Store(expected) : GoldenFiles.Read(path);

        var read = @case.Load(golden);

        var differences = PersistedStateGraph.Differences(expected, read);
        Assert.True(differences.Count == 0, $"{state}: {GoldenFiles.Describe(path)} reads back differently:\n  " + string.Join("\n  ", differences));
    }

    [Theory]
    [MemberData(nameof(States))]
    public void Builder_SetsEveryStoredMember_ForEachPersistedState(string state)
    {
        var built = CaseNamed(state).Build();

        var gaps = PersistedStateGraph.Gaps(built);

        Assert.True(gaps.Count == 0, $"{state}: the builder leaves members at their default, so their encoding goes unchecked, or gives them a compiler-chosen collection:\n  " + string.Join("\n  ", gaps));
    }

    [Fact]
    public void EveryGrainStateType_HasABuilderAndAGoldenFile()
    {
        var discovered = GrainStateTypes();
        Assert.NotEmpty(discovered);

        var built = Cases.Select(c => c.Type).ToHashSet();
        var withoutBuilder = discovered.Keys.Where(t => !built.Contains(t)).Select(t => $"{t.FullName} (in {discovered[t]})").ToList();
        Assert.True(withoutBuilder.Count == 0, "grain state types with no golden-bytes builder in PersistedStateBuilders: " + string.Join(", ", withoutBuilder));

        var notAState = built.Where(t => !discovered.ContainsKey(t)).Select(t => t.FullName).ToList();
        Assert.True(notAState.Count == 0, "golden-bytes builders for types no grain persists: " + string.Join(", ", notAState));

        if (!Regenerating)
        {
            var withoutFile = discovered.Keys.Where(t => !File.Exists(GoldenFiles.PathOf(t))).Select(t => t.Name).ToList();
            Assert.True(withoutFile.Count == 0, "grain state types with no golden file under tests/golden/persisted-state: " + string.Join(", ", withoutFile));
        }
    }

    [Fact]
    public void EveryGoldenFile_BelongsToAGrainStateType()
    {
        var names = GrainStateTypes().Keys.Select(t => t.Name + ".hex").ToHashSet(StringComparer.Ordinal);
        Assert.Equal(names.Count, GrainStateTypes().Count);

        var strays = Directory.Exists(GoldenFiles.Root)
            ? Directory.GetFiles(GoldenFiles.Root).Select(Path.GetFileName).Where(f => !names.Contains(f!)).ToList()
            : [];

        Assert.True(strays.Count == 0, "golden files under tests/golden/persisted-state that no grain state type matches: " + string.Join(", ", strays));
    }

    /// <summary>
    /// Every type a grain persists, found by reflection over the project's assemblies: <c>IPersistentState&lt;T&gt;</c> constructor
    /// parameters (with or without <c>[PersistentState]</c>), fields and properties, and <c>Grain&lt;T&gt;</c> bases; value: the grains.
    /// </summary>
    private static Dictionary<Type, string> GrainStateTypes()
    {
        var assemblies = new[] { typeof(VPodState).Assembly, typeof(VPodSpec).Assembly, typeof(Multicodec).Assembly, typeof(MetaNodeSiloExtensions).Assembly };
        var found = new Dictionary<Type, string>();
        foreach (var grain in assemblies.Distinct().SelectMany(a => a.GetTypes()).Where(t => t.IsClass && typeof(IGrainBase).IsAssignableFrom(t)))
        {
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly;
            var parameters = grain.GetConstructors(all).SelectMany(c => c.GetParameters()).ToList();
            var candidates = parameters.Select(p => p.ParameterType)
                .Concat(grain.GetFields(all).Select(f => f.FieldType))
                .Concat(grain.GetProperties(all).Select(p => p.PropertyType));
            var states = candidates.Select(StateOf).OfType<Type>().ToList();
            for (var t = grain.BaseType; t is not null; t = t.BaseType)
            {
                if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Grain<>))
                {
                    states.Add(t.GetGenericArguments()[0]);
                }
            }

            var marked = parameters.Where(p => p.IsDefined(typeof(PersistentStateAttribute))).ToList();
            Assert.All(marked, p => Assert.True(StateOf(p.ParameterType) is not null, $"{grain.Name}: [PersistentState] on '{p.Name}', which is not an IPersistentState<T>."));

            foreach (var state in states)
            {
                found[state] = found.TryGetValue(state, out var grains) && grains != grain.Name ? $"{grains}, {grain.Name}" : grain.Name;
            }
        }

        return found;

        static Type? StateOf(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IPersistentState<>) ? type.GetGenericArguments()[0] : null;
    }

    private static StateCase CaseNamed(string name) => Cases.Single(c => c.Type.Name == name);

    private static StateCase Case<T>(Func<T> build)
        where T : class
        => new(typeof(T), build, value => Storage.Serialize((T)value).ToArray(), bytes => Storage.Deserialize<T>(new BinaryData(bytes)));

    private static string FirstDifference(byte[] golden, byte[] stored)
    {
        var at = 0;
        while (at < golden.Length && at < stored.Length && golden[at] == stored[at])
        {
            at++;
        }

        static string Window(byte[] bytes, int at) => Convert.ToHexStringLower(bytes.AsSpan(at, Math.Min(16, Math.Max(0, bytes.Length - at))));
        return $"Golden {golden.Length} bytes, stored {stored.Length}; first difference at byte {at}: golden {Window(golden, at)}…, stored {Window(stored, at)}….";
    }

    /// <summary>A state type, its builder and its way through the storage serializer.</summary>
    private sealed record StateCase(Type Type, Func<object> Build, Func<object, byte[]> Store, Func<byte[], object?> Load);

    /// <summary>The golden files: lower-case hex, <see cref="HexLineLength"/> characters a line, a newline after the last.</summary>
    private static class GoldenFiles
    {
        public static string Root
        {
            get
            {
                for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                {
                    if (File.Exists(Path.Combine(dir.FullName, "MetaNode.Grains.sln")) && Directory.Exists(Path.Combine(dir.FullName, "tests", "golden")))
                    {
                        return Path.Combine(dir.FullName, "tests", "golden", "persisted-state");
                    }
                }

                throw new InvalidOperationException($"tests/golden was not found above {AppContext.BaseDirectory}.");
            }
        }

        public static string PathOf(Type state) => Path.Combine(Root, state.Name + ".hex");

        public static string Describe(string path) => "tests/golden/persisted-state/" + Path.GetFileName(path);

        public static byte[] Read(string path)
        {
            var text = new StringBuilder();
            foreach (var line in File.ReadAllLines(path))
            {
                text.Append(line.Trim());
            }

            return Convert.FromHexString(text.ToString());
        }

        public static void Write(string path, byte[] bytes)
        {
            var hex = Convert.ToHexStringLower(bytes);
            var text = new StringBuilder();
            for (var i = 0; i < hex.Length; i += HexLineLength)
            {
                text.Append(hex, i, Math.Min(HexLineLength, hex.Length - i)).Append('\n');
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text.ToString());
        }
    }
}
