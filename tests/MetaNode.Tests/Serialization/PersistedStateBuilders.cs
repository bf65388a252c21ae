using System.Net;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Grains.Chain;
using MetaNode.Grains.Clusters;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Orchestration;
using MetaNode.Grains.Placement;
using MetaNode.Grains.Security;
using MetaNode.Grains.Storage;
using MetaNode.Grains.VPods;
using MetaNode.Orchestration;
using MetaNode.Placement;
using MetaNode.Security;
using MetaNode.Storage;
using MetaNode.VPods;
using ValidatorSignature = MetaNode.Chain.ValidatorSignature;
using RoundFinalizedEvent = MetaNode.Chain.RoundFinalizedEvent;

namespace MetaNode.Tests.Serialization;

/// <summary>
/// One fully populated instance of every persisted grain state: every persisted member of the state and of every record below it
/// holds a distinctive non-default value (enums a non-zero member, collections non-empty, nullables set). Only fixed values are
/// used, so the stored bytes are the same on every run.
/// </summary>
internal static class PersistedStateBuilders
{
    /// <summary>A fixed instant with a non-zero offset, so an offset that is lost on the way shows; <paramref name="minute"/> keeps fields apart.</summary>
    public static DateTimeOffset At(int minute) => new(2026, 11, 30, 7, minute, 13, 250, TimeSpan.FromHours(2));

    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(45_250);

    /// <summary>
    /// A read-only list member's value, as a <see cref="List{T}"/>: a collection expression would hand the member a type of the
    /// compiler's choosing, and the stored bytes name the runtime type, so they would follow the compiler instead of the contract.
    /// </summary>
    private static List<T> ListOf<T>(params T[] items) => [.. items];

    public static AccessState Access() => new()
    {
        Identities =
        {
            ["ops-alice"] = new IdentityRecord
            {
                Name = "ops-alice", Role = AccessRole.Operator, Serial = "serial-0a1b", IssuedAt = At(1), ExpiresAt = At(2),
                RevokedAt = At(3), IssuedBy = "admin-root",
            },
        },
    };

    public static VPodRegistryState VPodRegistry() => new()
    {
        Entries =
        {
            ["vpod-7f3a"] = new VPodSummary
            {
                Id = "vpod-7f3a", Name = "trainer-east", Type = VPodType.Validator, DeploymentMethod = DeploymentMethod.Docker,
                Phase = VPodPhase.Degraded, Health = VPodHealth.Unhealthy, RestartCount = 6, CreatedAt = At(4), UpdatedAt = At(5), ShouldRun = true,
            },
        },
        Names = { ["trainer-east"] = "vpod-7f3a" },
    };

    public static VPodSpec Spec() => new()
    {
        Name = "trainer-east",
        Type = VPodType.Orchestrator,
        DeploymentMethod = DeploymentMethod.Kubernetes,
        Image = "registry.metanode.test/trainer:1.4",
        Command = ListOf("python3", "-m", "trainer"),
        CpuMillis = 1750,
        MemoryBytes = 768L << 20,
        Ports = ListOf(8443, 9101),
        Env = new Dictionary<string, string> { ["MODE"] = "golden" },
        Volumes = ListOf(new VolumeMount("/srv/in", "/vpod/in", ReadOnly: true)),
        Labels = new Dictionary<string, string> { ["team"] = "federation" },
        RestartPolicy = RestartPolicy.Always,
        ImagePullSecrets = ListOf("pull-secret-a"),
        Replicas = 3,
        HighAvailability = true,
        PersistentStorage = new StorageRequest(5L << 30, "fast-ssd", "/vpod/state"),
        NetworkPolicy = new NetworkPolicySpec { Enabled = true, IngressFrom = ListOf("cluster-a"), EgressTo = ListOf("cluster-b") },
        Cluster = "cluster-east",
    };

    public static VPodState VPod() => new()
    {
        Spec = Spec(),
        Phase = VPodPhase.Restarting,
        Health = VPodHealth.Degraded,
        Handle = new RuntimeHandle(DeploymentMethod.Docker, "c0ffee01", "node-b", At(6), "owner-silo-2", 424242, "http://127.0.0.1:18081"),
        RestartCount = 7,
        ConsecutiveFailures = 3,
        CreatedAt = At(7),
        StartedAt = At(8),
        UpdatedAt = At(9),
        LastExitCode = 137,
        Reason = "probe timed out",
        Transitions = [new VPodTransition(VPodPhase.Running, VPodPhase.Degraded, VPodTrigger.ProbeDegraded, "slow probe", At(10))],
        DesiredRunning = true,
        NextRestartAt = At(11),
        Interrupted = true,
        Provisioned = true,
        OomKilled = true,
        Address = "0x1111111111111111111111111111111111111111",
        ProvedAddress = "0x2222222222222222222222222222222222222222",
        ProvedAt = At(12),
    };

    public static DbLockState DbLock() => new()
    {
        History = [new LockRecord { Sequence = 17, Name = "ledger-db", Cid = "bafkreigoldenlock", Cluster = "storage-a", By = "ops-alice", At = At(13) }],
    };

    public static StorageState Storage() => new()
    {
        Blocks =
        {
            ["bafybeigoldenroot"] = new StoredBlock
            {
                Codec = Multicodec.DagPb, Size = 262_158, FileSize = 1_048_576, Children = ["bafkreigoldenleaf"], Holders = ["vpod-s-1"], AddedAt = At(14),
            },
        },
        Pins = [new PinRecord { Cid = "bafybeigoldenroot", Owner = "job-golden", By = "ops-alice", At = At(15), Size = 1_048_576 }],
    };

    public static ValidatorWorkerState ValidatorWorker() => new()
    {
        Assignment = new ValidatorAssignment
        {
            JobId = "job-golden",
            ValidatorVPodId = "vpod-v-1",
            ComputeAddresses = new Dictionary<string, string> { ["vpod-c-1"] = "0x3333333333333333333333333333333333333333" },
            Standardization = new Standardization([0.25, -1.5], [2, 0.75]),
            Aggregation = AggregationRule.TrimmedMean(0.125),
            AssignedSamples = new Dictionary<string, long> { ["vpod-c-1"] = 96 },
            ChainId = 31337,
        },
    };

    public static FederatedJobState FederatedJob()
    {
        var rejected = new RejectedUpdate("vpod-c-3", "sample count above the assignment");
        var signature = new ValidatorSignature("0x5555555555555555555555555555555555555555", "0xsig-v1", "vpod-v-1");
        var stateSignature = new ValidatorSignature("0x6666666666666666666666666666666666666666", "0xsig-state", "vpod-v-2");
        return new FederatedJobState
        {
            Spec = new FederatedJobSpec
            {
                Algorithm = FederatedAlgorithm.SecureAggregation,
                ComputeCluster = "cluster-compute",
                ValidatorCluster = "cluster-validate",
                Dataset = "iris-golden",
                Partition = PartitionScheme.Dirichlet(0.35),
                Rounds = 12,
                LocalEpochs = 3,
                BatchSize = 24,
                LearningRate = 0.075,
                MinParticipants = 2,
                RoundDeadline = Window,
                Quorum = 2,
                Seed = 0xfeedface_cafebeefUL,
                Robust = AggregationRule.TrimmedMean(0.2),
                TestFraction = 0.3,
                SecurityThreshold = 2,
                Encryption = true,
                StorageCluster = "cluster-store",
                ServerOptimizer = new ServerOptimizer(ServerOptimizerKind.Adam, 0.05, 0.85, 0.995, 0.002),
                ProximalMu = 0.45,
            },
            Phase = FederatedJobPhase.Finalizing,
            Round = 4,
            ComputeVPods = ["vpod-c-1", "vpod-c-2"],
            ValidatorVPods = ["vpod-v-1"],
            Addresses = { ["vpod-c-1"] = "0x3333333333333333333333333333333333333333" },
            Standardization = new Standardization([0.5, -2.25], [1.5, 3]),
            GlobalModel = [0x67, 0x6c, 0x6f, 0x62],
            Updates =
            {
                ["vpod-c-1"] = new FederatedUpdateEvent
                {
                    Update = new ModelUpdate(
                        new TrainingReceipt("job-golden", 4, "vpod-c-1", 96, "0x7777", "0xsig-c1"),
                        new FederatedModel(2, 2, [0.5, -1.25, 3, 4e-9, 0.1, -0.2]),
                        new TrainingMetrics(0.42, 0.91, 36, 18.5)),
                    PublishedAt = At(30),
                    TrainingMs = 18.5,
                },
            },
            RoundStartedAt = At(31),
            Deadline = At(32),
            Closed = ["vpod-c-1"],
            Votes =
            [
                new ValidatorVote
                {
                    ValidatorVPodId = "vpod-v-1", Signer = "0x5555555555555555555555555555555555555555", Signature = "0xvote", ResultHash = "0x88",
                    ReceiptsRoot = "0x99", ModelRef = "0xaa", Participants = ListOf("vpod-c-1"), TotalSamples = 96, Rejected = ListOf(rejected),
                    Model = [0x76, 0x6f, 0x74, 0x65], SlowestDeliveryMs = 7.25, Evaluation = new RoundEvaluation("vpod-v-1", 0.93, 0.21, 30),
                    OptimizerState = [0x6f, 0x70, 0x74], StateHash = "0xbb", StateSignature = "0xsig-state-vote",
                },
            ],
            Results =
            [
                new MetaNode.Federation.RoundResult
                {
                    Job = "job-golden", Round = 3, Participants = ListOf("vpod-c-1", "vpod-c-2"), TotalSamples = 192, ResultHash = "0x88", ReceiptsRoot = "0x99",
                    Aggregation = AggregationRule.TrimmedMean(0.15), Rejected = ListOf(rejected), Accuracy = 0.9, Loss = 0.25, ModelRef = "0xaa", TxHash = "0xcc",
                    Validators = ListOf("0x5555555555555555555555555555555555555555"), DisagreeingValidators = ListOf("0x6666666666666666666666666666666666666666"),
                    Signatures = ListOf(signature), ModelCid = "bafkreigoldenmodel", RecordCid = "bafkreigoldenrecord",
                    Receipts = ListOf(new TrainingReceipt("job-golden", 3, "vpod-c-2", 96, "0xdd", "0xsig-c2")), StateHash = "0xee", StateSignatures = ListOf(stateSignature),
                },
            ],
            Timings =
            [
                new RoundTimings
                {
                    Round = 3, DispatchMs = 1.5, SlowestTrainingMs = 20.25, CollectionMs = 2.5, StreamDeliveryMs = 3.75, AggregationMs = 4.5,
                    FinalizationMs = 9.25, TotalMs = 41.75, GasUsed = 65_000,
                },
            ],
            Reason = "round 4 waits for its quorum",
            CreatedAt = At(33),
            UpdatedAt = At(34),
            DispatchMs = 1.75,
            ClosedAt = At(35),
            AggregationMs = 5.5,
            Disagreeing = ["vpod-v-2"],
            AssignedSamples = { ["vpod-c-1"] = 96, ["vpod-c-2"] = 96 },
            ChainId = 31337,
            Refused = { ["vpod-c-3"] = "sample count above the assignment" },
            SecurityThreshold = 2,
            SecureTranscript = [0x7b, 0x7d],
            OptimizerState = [0x61, 0x64, 0x61, 0x6d],
            HistoryPages = 2,
        };
    }

    /// <summary>A page of finalized rounds: the job state's results and timings, as they move out of it.</summary>
    public static FederatedJobHistoryState FederatedJobHistory()
    {
        var job = FederatedJob();
        return new FederatedJobHistoryState { Results = job.Results, Timings = job.Timings };
    }

    public static FederatedDatasetState FederatedDataset() => new() { Data = [0x64, 0x61, 0x74, 0x61, 0x00, 0xff] };

    public static FederatedModelState FederatedModel() => new() { Model = [0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x01] };

    public static FederatedJobRegistryState FederatedJobRegistry() => new()
    {
        Jobs =
        {
            ["job-golden"] = new FederatedJobSummary
            {
                JobId = "job-golden", Phase = FederatedJobPhase.Aggregating, Round = 4, Rounds = 12, Dataset = "iris-golden", Accuracy = 0.875,
                CreatedAt = At(16), UpdatedAt = At(17),
            },
        },
    };

    public static VPodClusterState VPodCluster() => new()
    {
        Spec = new ClusterSpec
        {
            Name = "cluster-east",
            Count = 4,
            MemberType = VPodType.Storage,
            DeploymentMethod = DeploymentMethod.Docker,
            Image = "registry.metanode.test/store:2.0",
            Command = ListOf("store", "--serve"),
            CpuMillis = 2250,
            MemoryBytes = 384L << 20,
            Replicas = 2,
            HighAvailability = true,
            PersistentStorage = new StorageRequest(3L << 30, "standard", "/vpod/blocks"),
            NetworkPolicy = new NetworkPolicySpec { Enabled = true, IngressFrom = ListOf("cluster-west"), EgressTo = ListOf("cluster-north") },
            Algorithm = AggregationAlgorithm.SecureAggregation,
            SecurityThreshold = 3,
            EncryptionEnabled = true,
            RestartPolicy = RestartPolicy.Never,
            Quota = new ClusterQuota { CpuMillis = 9000, MemoryBytes = 4L << 30, MaxMembers = 8 },
            Env = new Dictionary<string, string> { ["TIER"] = "warm" },
            Ports = ListOf(7070),
            Replication = 2,
        },
        Phase = ClusterPhase.Degraded,
        Desired = 4,
        NextOrdinal = 5,
        Members = [new ClusterMemberRecord { Ordinal = 2, Created = true, PendingReason = "awaiting capacity" }],
        FencingTerm = 19,
        FencingLeader = "silo-leader-2",
        CreatedAt = At(18),
        UpdatedAt = At(19),
        LastReconciledAt = At(20),
    };

    public static VPodClusterRegistryState VPodClusterRegistry() => new()
    {
        Clusters =
        {
            ["cluster-east"] = new ClusterSummary
            {
                Name = "cluster-east", MemberType = VPodType.Compute, Desired = 5, Phase = ClusterPhase.Ready, CreatedAt = At(21),
                DeploymentMethod = DeploymentMethod.Kubernetes,
            },
        },
    };

    public static LeaderLeaseState LeaderLease() => new()
    {
        Lease = new LeaseSnapshot
        {
            Holder = "silo-leader-2", Term = 23, ExpiresAt = At(22), AcquiredAt = At(23), Ttl = Window, HolderInstance = "instance-9c",
            HolderSilo = "S127.0.0.1:11111:123456789",
        },
        History =
        [
            new LeaderChange
            {
                EventId = "lease-23", Scope = "orchestrator", Leader = "silo-leader-2", PreviousLeader = "silo-leader-1", Term = 23, At = At(24),
                Reason = "lease expired",
            },
        ],
    };

    /// <summary>A fixed silo address on the loopback interface.</summary>
    public static SiloAddress Silo() => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 123456789);

    public static PlacementLedgerState PlacementLedger() => new()
    {
        Reservations =
        {
            ["vpod-7f3a"] = new Reservation
            {
                Request = new PlacementRequest { VPodId = "vpod-7f3a", CpuMillis = 1250, MemoryBytes = 640L << 20, Cluster = "cluster-east", Type = VPodType.Compute, Spread = true },
                Silo = Silo(),
                PlacedAt = At(25),
                Overcommitted = true,
            },
        },
        Capacities = { [Silo()] = new SiloCapacity(16_000, 32L << 30) },
    };

    public static ChainAccountState ChainAccount() => new()
    {
        NextNonce = 42,
        Pending =
        {
            ["finalize:0xabc:job-golden:4"] = new PendingTransaction
            {
                Operation = "finalize:0xabc:job-golden:4", Nonce = 41, To = "0x4444444444444444444444444444444444444444", Data = "0xdeadbeef",
                GasLimit = 210_000, MaxFeePerGas = "30000000000", MaxPriorityFeePerGas = "1500000000", Hashes = ["0xaaaa", "0xbbbb"],
                RawTransaction = "0x02f8", FirstSentAt = At(26), LastSentAt = At(27), Replacements = 1,
            },
        },
        Submitted = 40,
        Confirmed = 39,
        GasUsed = 1_234_567,
        LastBlockSeen = 8_765,
    };

    public static ChainWatcherState ChainWatcher() => new()
    {
        Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        Checkpoint = 8_760,
        CheckpointHash = "0xcccc",
        EventsPublished = 11,
        ReorgsSeen = 2,
        History = [new WatchedBlock { Number = 8_760, Hash = "0xcccc" }],
        Recent =
        [
            new RoundFinalizedEvent
            {
                EventId = "0xdddd:3", Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3", JobId = "job-golden", Round = 4,
                ResultHash = "0x01", ReceiptsRoot = "0x02", ModelRef = "0x03", BlockNumber = 8_759, BlockHash = "0xeeee",
                TransactionHash = "0xdddd", LogIndex = 3, Removed = true, ModelCid = "bafkreigoldenmodel",
            },
        ],
        EventsRetracted = 1,
    };

    public static ChainGrainState Chain() => new()
    {
        Registry = "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        RegistryChainId = 31337,
        Deployments = ["0x5fbdb2315678afecb367f032d93f642f64180aa3"],
        RegistryDeployedAtBlock = 12,
    };
}
