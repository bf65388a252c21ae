using MetaNode.Security;
using Orleans.Concurrency;

namespace MetaNode.Federation;

/// <summary>One federated job (key: the job id, at most 32 characters): its rounds' state machine, deadlines and results.</summary>
[Alias("MetaNode.Federation.IFederatedJobGrain")]
public interface IFederatedJobGrain : IGrainWithStringKey
{
    /// <summary>Checks the spec against the clusters and the chain, records the job and starts it. Starting it again with the same spec returns its status.</summary>
    [Alias("Start"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<FederatedJobStatus> StartAsync(FederatedJobSpec spec, CancellationToken cancellationToken = default);

    [Alias("GetStatus"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<FederatedJobStatus> GetStatusAsync(CancellationToken cancellationToken = default);

    [Alias("Cancel"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task<FederatedJobStatus> CancelAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A compute vPod's update for a round (a repeated one counts once). The stream carries the same update to validators. The job
    /// persists the round's updates when it closes the round (and while it waits, between its steps); an update lost with a silo
    /// before that is trained again, which gives the same bytes.
    /// </summary>
    [Alias("SubmitUpdate"), SiloOnly]
    Task SubmitUpdateAsync(FederatedUpdateEvent update, CancellationToken cancellationToken = default);

    /// <summary>The persisted updates of a round for the given vPods (validators fetch what the stream did not bring).</summary>
    [Alias("GetUpdates"), SiloOnly, AlwaysInterleave]
    Task<IReadOnlyList<ModelUpdate>> GetUpdatesAsync(int round, IReadOnlyList<string> vpodIds, CancellationToken cancellationToken = default);

    /// <summary>
    /// The registry record of a round and the signatures its validators' workloads made over it, once k of them agreed (null before,
    /// or for a round this job did not sign). <c>chain finalize</c> re-submits only these.
    /// </summary>
    /// <summary>What a compute vPod trains on in <paramref name="round"/> (null unless the round is being trained and the vPod takes part).</summary>
    [Alias("GetTrainingAssignment"), SiloOnly, AlwaysInterleave]
    Task<TrainingAssignment?> GetTrainingAssignmentAsync(string vpodId, int round, CancellationToken cancellationToken = default);

    /// <summary>A validator's assignment: the participants' proved addresses and assigned counts, the rule, the chain (null for another vPod).</summary>
    [Alias("GetValidatorAssignment"), SiloOnly, AlwaysInterleave]
    Task<ValidatorAssignment?> GetValidatorAssignmentAsync(string validatorVPodId, CancellationToken cancellationToken = default);

    /// <summary>The closed round's facts every validator aggregates (null unless <paramref name="round"/> is closed and not yet finalized).</summary>
    [Alias("GetRoundClosing"), SiloOnly, AlwaysInterleave]
    Task<RoundClosing?> GetRoundClosingAsync(int round, CancellationToken cancellationToken = default);

    /// <summary>
    /// Secure aggregation: the closed round's whole transcript as a validator workload's <c>/v2/secagg/aggregate</c> request (UTF-8
    /// JSON), once the survivors revealed their shares; null for a federated-average job or before that.
    /// </summary>
    [Alias("GetSecureAggregateRequest"), SiloOnly, AlwaysInterleave]
    Task<byte[]?> GetSecureAggregateRequestAsync(int round, CancellationToken cancellationToken = default);

    [Alias("GetSignedRound"), SiloOnly, AlwaysInterleave]
    Task<MetaNode.Chain.SignedRound?> GetSignedRoundAsync(int round, CancellationToken cancellationToken = default);

    /// <summary>The aggregated model a round finalized, as canonical bytes (null before the round is confirmed); read from the model store by the round's model reference.</summary>
    [Alias("GetModel"), RequiresRole(AccessRole.Viewer), AlwaysInterleave]
    Task<byte[]?> GetModelAsync(int round, CancellationToken cancellationToken = default);
}

/// <summary>A compute vPod's part in federated jobs (key: the vPod id): train on the local partition, sign the receipt, publish.</summary>
[Alias("MetaNode.Federation.IComputeWorkerGrain")]
[SiloOnly]
public interface IComputeWorkerGrain : IGrainWithStringKey
{
    /// <summary>
    /// Fetches its assignment for the round from the job (never from the caller), has its workload train and sign, and submits the
    /// update to the job and its stream. Returns at once; the job's deadline covers a vPod that never answers.
    /// </summary>
    [Alias("Train"), OneWay]
    Task TrainAsync(string jobId, int round);
}

/// <summary>A validator vPod's part in one job (key: <c>{job}/{vPod}</c>): receive updates from the stream, aggregate, evaluate, sign.</summary>
[Alias("MetaNode.Federation.IValidatorWorkerGrain")]
[SiloOnly]
public interface IValidatorWorkerGrain : IGrainWithStringKey
{
    /// <summary>Fetches its assignment from the job (never from the caller), records it and subscribes to the job's stream (idempotent).</summary>
    [Alias("Join")]
    Task JoinAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Fetches the closed round's facts from the job (never from the caller) and hands them with every copy of its updates to the validator's workload, which verifies each
    /// receipt, aggregates, evaluates on its held-out split and signs the registry's digest of what it computed (once per round).
    /// </summary>
    [Alias("Aggregate")]
    Task<ValidatorVote> AggregateAsync(string jobId, int round, CancellationToken cancellationToken = default);

    /// <summary>Unsubscribes and forgets the job.</summary>
    [Alias("Leave")]
    Task LeaveAsync(CancellationToken cancellationToken = default);
}

/// <summary>Every job (key: <see cref="FederatedJobRegistryKeys.Default"/>).</summary>
[Alias("MetaNode.Federation.IFederatedJobRegistryGrain")]
public interface IFederatedJobRegistryGrain : IGrainWithStringKey
{
    /// <summary>Records a job's summary. One-way: a job never waits for its listing; a summary older than the recorded one is ignored.</summary>
    [Alias("Upsert"), SiloOnly, OneWay]
    Task UpsertAsync(FederatedJobSummary summary, CancellationToken cancellationToken = default);

    [Alias("List"), RequiresRole(AccessRole.Viewer), ReadOnly]
    Task<IReadOnlyList<FederatedJobSummary>> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// A finalized model, content-addressed (key: its model reference, <c>0x</c> + the SHA-256 of its canonical bytes, as signed on
/// chain). Written once; a job's state keeps only the current global model, each round's model lives here.
/// </summary>
[Alias("MetaNode.Federation.IFederatedModelGrain")]
[SiloOnly]
public interface IFederatedModelGrain : IGrainWithStringKey
{
    /// <summary>Stores the bytes; refused unless they hash to the key. Storing the same bytes again changes nothing.</summary>
    [Alias("Put")]
    Task PutAsync(byte[] model, CancellationToken cancellationToken = default);

    /// <summary>The stored bytes, or null.</summary>
    [Alias("Get"), ReadOnly]
    Task<byte[]?> GetAsync(CancellationToken cancellationToken = default);
}

/// <summary>
/// A page of a job's finalized rounds (key: <see cref="FederatedJobHistoryKeys.Page"/>). A job moves each full page of round results
/// and timings here, so its own state, written at every step of every round, stays the same size however many rounds it runs.
/// The page is written before the job drops those rounds from its state; writing a page again replaces it.
/// </summary>
[Alias("MetaNode.Federation.IFederatedJobHistoryGrain")]
[SiloOnly]
public interface IFederatedJobHistoryGrain : IGrainWithStringKey
{
    /// <summary>Stores the page; refused when its results and timings are not the same rounds, in order.</summary>
    [Alias("Put")]
    Task PutAsync(FederatedJobHistoryPage page, CancellationToken cancellationToken = default);

    /// <summary>The stored page, or null.</summary>
    [Alias("Get"), ReadOnly]
    Task<FederatedJobHistoryPage?> GetAsync(CancellationToken cancellationToken = default);
}

/// <summary>Consecutive finalized rounds of one job: each round's result and timings, in round order.</summary>
[GenerateSerializer, Immutable, Alias("MetaNode.Federation.FederatedJobHistoryPage")]
public sealed record FederatedJobHistoryPage(
    [property: Id(0)] IReadOnlyList<RoundResult> Results,
    [property: Id(1)] IReadOnlyList<RoundTimings> Timings)
{
    /// <summary>Why the page cannot be stored, or null: the results and timings must be the same rounds, consecutive and ascending.</summary>
    public string? Problem()
    {
        if (Results is not { Count: > 0 } || Timings is null || Timings.Count != Results.Count)
        {
            return $"a page holds one or more rounds, each with its result and its timings; got {Results?.Count ?? 0} results and {Timings?.Count ?? 0} timings";
        }

        for (var i = 0; i < Results.Count; i++)
        {
            if (Results[i].Round != Results[0].Round + i || Timings[i].Round != Results[i].Round)
            {
                return $"entry {i} is round {Results[i].Round} (timings: round {Timings[i].Round}); the rounds of a page are consecutive from {Results[0].Round}";
            }
        }

        return null;
    }
}

public static class FederatedJobHistoryKeys
{
    /// <summary>The key of a job's page <paramref name="index"/> (0 holds its first rounds).</summary>
    public static string Page(string jobId, int index) => $"{jobId}/{index.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>
/// An uploaded data set, content-addressed (key: the 64 lower-case hex digits of the SHA-256 of its bytes; a job names it as
/// <c>sha256:HEX</c>). The bytes are refused unless they hash to the key and fit the silo's <c>MetaNode:Datasets:MaxUploadBytes</c>.
/// </summary>
[Alias("MetaNode.Federation.IFederatedDatasetGrain")]
public interface IFederatedDatasetGrain : IGrainWithStringKey
{
    /// <summary>Stores the bytes; refused (<see cref="InvalidDatasetException"/>) when they are too large or do not hash to the key. Storing them again changes nothing.</summary>
    [Alias("Put"), RequiresRole(AccessRole.Operator, Mutates = true)]
    Task PutAsync(byte[] data, CancellationToken cancellationToken = default);

    /// <summary>The stored bytes, or null.</summary>
    [Alias("Get"), SiloOnly, ReadOnly]
    Task<byte[]?> GetAsync(CancellationToken cancellationToken = default);
}

public static class FederatedJobRegistryKeys
{
    public const string Default = "default";
}
