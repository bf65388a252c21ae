using MetaNode.Chain;
using MetaNode.Clusters;
using MetaNode.Federation;
using MetaNode.Security;
using MetaNode.Storage;
using MetaNode.VPods;

namespace MetaNode.Client;

/// <summary>The typed MetaNode API: deploy, manage and observe vPods.</summary>
public interface IMetaNodeClient : IAsyncDisposable
{
    /// <summary>Creates a vPod under a new id and returns its status.</summary>
    Task<VPodStatus> DeployVPodAsync(VPodSpec spec, CancellationToken cancellationToken = default);

    /// <summary>Starts, stops, restarts or deletes a vPod; <paramref name="options"/> apply to stop and delete.</summary>
    Task<VPodStatus> ManageVPodAsync(string id, VPodAction action, StopOptions? options = null, CancellationToken cancellationToken = default);

    Task<VPodStatus> CheckVPodStatusAsync(string id, CancellationToken cancellationToken = default);

    Task<VPodMetrics> GetVPodMetricsAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Admits the address a vPod's workload proved after its key changed (it must be the proved one).</summary>
    Task<VPodStatus> AdmitVPodAddressAsync(string id, string address, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<LogLine>> GetVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default);

    /// <summary>The lines matching <paramref name="query"/>, then every new line until cancelled or the vPod is deleted.</summary>
    IAsyncEnumerable<LogLine> FollowVPodLogsAsync(string id, LogQuery query, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<VPodSummary>> ListVPodsAsync(CancellationToken cancellationToken = default);

    /// <summary>The chain connection, the registry and its validator set (<c>chain status</c>).</summary>
    Task<ChainStatus> GetChainStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Deploys a new ResultRegistry (validators: the given addresses, or every validator vPod) and makes it current.</summary>
    Task<ChainStatus> DeployRegistryAsync(DeployRegistryCommand command, CancellationToken cancellationToken = default);

    Task<ValidatorSet> GetValidatorsAsync(CancellationToken cancellationToken = default);

    /// <summary>A round as recorded on chain, checked against the registry's commitment.</summary>
    Task<RoundRecord> GetRoundAsync(string jobId, long round, CancellationToken cancellationToken = default);

    /// <summary>Has validator vPods sign the round and the operator account submit it once; a round already on chain is reported.</summary>
    Task<FinalizationResult> FinalizeRoundAsync(FinalizeRoundCommand command, CancellationToken cancellationToken = default);

    /// <summary>Rotates the validator set (the given addresses, or every validator vPod), signed by k validators of the current set.</summary>
    Task<ValidatorSet> RotateValidatorsAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default);
    /// <summary><c>deploy_vpod_cluster</c>: records the cluster and creates its members; deploying the same spec again changes nothing.</summary>
    Task<ClusterStatus> DeployClusterAsync(ClusterSpec spec, CancellationToken cancellationToken = default);

    Task<ClusterStatus> ScaleClusterAsync(string name, int count, CancellationToken cancellationToken = default);

    /// <summary>Aggregate status: desired, running and failed counts, each member, the leader and its term.</summary>
    Task<ClusterStatus> GetClusterStatusAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every cluster, with its phase as its members make it now (Ready, Degraded, …).</summary>
    Task<IReadOnlyList<ClusterSummary>> ListClustersAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes the cluster's members, then the cluster.</summary>
    Task<ClusterStatus> DeleteClusterAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Sends a reconciliation command carrying a leader term; a term older than the cluster's current one is rejected with <see cref="StaleLeaderTermException"/>.</summary>
    Task<ClusterStatus> ReconcileClusterAsync(string name, LeaderCommand command, CancellationToken cancellationToken = default);

    /// <summary>Starts a federated job (a new id unless <paramref name="jobId"/> is given); the spec is checked against the clusters and the chain first.</summary>
    Task<FederatedJobStatus> StartJobAsync(FederatedJobSpec spec, string? jobId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Uploads a data set (a CSV file, plain or gzip) to the cluster and returns how a job names it: <c>sha256:HEX</c>, the SHA-256 of
    /// the bytes, which the silo checks again. The silo refuses more than its <c>MetaNode:Datasets:MaxUploadBytes</c>.
    /// </summary>
    Task<string> UploadDatasetAsync(byte[] data, CancellationToken cancellationToken = default);

    /// <summary>Reads <paramref name="data"/> to its end, refusing it past <paramref name="maxBytes"/> (never buffering more), and uploads it.</summary>
    async Task<string> UploadDatasetAsync(Stream data, long maxBytes = DatasetFiles.DefaultMaxBytes, CancellationToken cancellationToken = default) =>
        await UploadDatasetAsync(await DatasetFiles.ReadBoundedAsync(data, maxBytes, "stream", cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Uploads a local file: refused (<see cref="InvalidDatasetException"/>) before it is opened when it is not a regular file (a device
    /// such as <c>/dev/zero</c>, a FIFO, a directory) or is larger than <paramref name="maxBytes"/>.
    /// </summary>
    Task<string> UploadDatasetFileAsync(string path, long maxBytes = DatasetFiles.DefaultMaxBytes, CancellationToken cancellationToken = default) =>
        UploadDatasetAsync(DatasetFiles.ReadFile(path, maxBytes), cancellationToken);

    /// <summary>The job's phase, round and per-round results (accuracy, participants, hashes, transaction, validators, timings).</summary>
    Task<FederatedJobStatus> GetJobStatusAsync(string jobId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<FederatedJobSummary>> ListJobsAsync(CancellationToken cancellationToken = default);

    /// <summary>Cancels an active job; rounds already finalized stay on chain.</summary>
    Task<FederatedJobStatus> CancelJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The model a round finalized, in its canonical encoding (what validators hashed and signed; its SHA-256 is the round's model
    /// reference on chain), or null when the round is not finalized.
    /// </summary>
    Task<byte[]?> GetJobModelAsync(string jobId, int round, CancellationToken cancellationToken = default);

    /// <summary>Issues an identity for the public key in <paramref name="request"/> (admin).</summary>
    Task<IssuedIdentity> GrantAccessAsync(GrantRequest request, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not manage access.");

    /// <summary>Revokes an identity; every silo refuses it within seconds (admin).</summary>
    Task<IdentityRecord> RevokeAccessAsync(string name, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not manage access.");

    /// <summary>Revokes a certificate serial (hex) the cluster has no record of, e.g. an identity made by `metanode-silo tls init` (admin).</summary>
    Task<IdentityRecord> RevokeAccessSerialAsync(string serial, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not manage access.");

    /// <summary>Every identity the cluster issued, revoked ones included (admin).</summary>
    Task<IReadOnlyList<IdentityRecord>> ListAccessAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not manage access.");

    /// <summary>A token a browser presents to the silo's pages for the identity <paramref name="name"/> (admin).</summary>
    Task<string> IssueAccessTokenAsync(string name, TimeSpan validFor, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not manage access.");

    /// <summary>The audit log: mutations and refusals, oldest first (admin).</summary>
    Task<IReadOnlyList<AuditEntry>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not read the audit log.");

    /// <summary>
    /// <c>backup create</c>: has the silo take a consistent backup of its state and copies the archive to <paramref name="destination"/>,
    /// checking its size and SHA-256 (admin; the embedded profile only).
    /// </summary>
    Task<MetaNode.Backup.BackupTicket> CopyBackupAsync(Stream destination, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not take backups.");

    /// <summary>The storage cluster to use: <paramref name="cluster"/> when given, else the only storage cluster there is.</summary>
    Task<string> ResolveStorageClusterAsync(string? cluster, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    /// <summary><c>storage put</c>: stores and pins a file; its CID is the one <c>ipfs add --cid-version 1</c> gives.</summary>
    Task<StoredFile> PutFileAsync(string? cluster, Stream content, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    /// <summary><c>storage get</c>: writes a stored file, every block checked against its CID.</summary>
    Task<long> GetFileAsync(string? cluster, string cid, Stream output, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<ContentStat?> StatContentAsync(string? cluster, string cid, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<PinRecord> PinContentAsync(string? cluster, string cid, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<bool> UnpinContentAsync(string? cluster, string cid, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<IReadOnlyList<PinRecord>> ListPinsAsync(string? cluster, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<GcReport> CollectGarbageAsync(string? cluster, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    /// <summary><c>storage lock</c>: binds a db.lock name to a stored CID, once.</summary>
    Task<LockRecord> LockAsync(string name, string cid, string? cluster, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<LockRecord?> ResolveLockAsync(string name, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");

    Task<IReadOnlyList<LockRecord>> LockHistoryAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("This client does not reach storage.");
}
