using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using MetaNode.Workloads;

namespace MetaNode.Workload.Federation;

/// <summary>What the first secure request of a job fixed: its chain, seed, threshold and participants (sorted, addresses lower case).</summary>
public sealed record SecureJobRecord(
    [property: JsonPropertyName("chainId")] long ChainId,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("threshold")] int Threshold,
    [property: JsonPropertyName("participants")] SecAggParticipantDto[] Participants);

/// <summary>The shares of one peer's two secrets this vPod holds (hex).</summary>
public sealed record HeldShares(
    [property: JsonPropertyName("selfMask")] string SelfMask,
    [property: JsonPropertyName("maskKey")] string MaskKey);

/// <summary>A compute vPod's round of secure aggregation, as far as it went: keys, what it shared, received, masked, signed and revealed.</summary>
public sealed class SecureRoundRecord
{
    [JsonPropertyName("cipherPrivate")] public string CipherPrivate { get; set; } = string.Empty;
    [JsonPropertyName("maskPrivate")] public string MaskPrivate { get; set; } = string.Empty;
    [JsonPropertyName("keys")] public SecAggKeysDto Keys { get; set; } = new(string.Empty, string.Empty, string.Empty, null);
    [JsonPropertyName("advertised")] public SecAggKeysDto[]? Advertised { get; set; }
    [JsonPropertyName("advertisedHash")] public string? AdvertisedHash { get; set; }
    [JsonPropertyName("selfMask")] public string? SelfMask { get; set; }
    [JsonPropertyName("sharesAnswer")] public SecAggSharesResponse? SharesAnswer { get; set; }
    [JsonPropertyName("held")] public Dictionary<string, HeldShares> Held { get; set; } = [];
    [JsonPropertyName("sendersHash")] public string? SendersHash { get; set; }
    [JsonPropertyName("trainAnswer")] public SecAggTrainResponse? TrainAnswer { get; set; }
    [JsonPropertyName("signedSurvivors")] public string[]? SignedSurvivors { get; set; }
    [JsonPropertyName("survivorsSignature")] public string? SurvivorsSignature { get; set; }
    [JsonPropertyName("revealed")] public Dictionary<string, string> Revealed { get; set; } = [];
    [JsonPropertyName("revealAnswer")] public SecAggRevealDto? RevealAnswer { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SecureJobRecord))]
[JsonSerializable(typeof(SecureRoundRecord))]
public sealed partial class SecureStateJson : JsonSerializerContext;

/// <summary>
/// The compute vPod's durable secure-aggregation state, <c>{keyDir}/secagg/{job}/job.json</c> and <c>round-{r}.json</c> (mode 0600),
/// each written to a temporary file, flushed to disk and renamed: what it answered and revealed survives a crash, so it never
/// answers a round two ways.
/// </summary>
public sealed partial class SecureComputeState(string keyDirectory)
{
    private const UnixFileMode StateFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}$", RegexOptions.CultureInvariant)]
    private static partial Regex JobPattern();

    public static void CheckJob(string? job)
    {
        if (job is null || !JobPattern().IsMatch(job))
        {
            throw new InvalidWorkloadRequestException($"job '{job}' is invalid: a job id is 1-32 lower-case letters, digits or '-'.");
        }
    }

    public SecureJobRecord? ReadJob(string job) => Read(Path.Combine(JobDirectory(job), "job.json"), SecureStateJson.Default.SecureJobRecord);

    public void WriteJob(string job, SecureJobRecord record) => Write(job, "job.json", JsonSerializer.SerializeToUtf8Bytes(record, SecureStateJson.Default.SecureJobRecord));

    public SecureRoundRecord? ReadRound(string job, int round) => Read(Path.Combine(JobDirectory(job), $"round-{round}.json"), SecureStateJson.Default.SecureRoundRecord);

    public void WriteRound(string job, int round, SecureRoundRecord record) =>
        Write(job, $"round-{round}.json", JsonSerializer.SerializeToUtf8Bytes(record, SecureStateJson.Default.SecureRoundRecord));

    private string JobDirectory(string job) => Path.Combine(keyDirectory, SecureAggregationPaths.StateDirectory, job);

    private static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
        where T : class
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), type);
        }
        catch (JsonException ex)
        {
            throw new WorkloadConflictException($"the secure-aggregation state file {path} is damaged ({ex.Message}); this vPod cannot go on with the round.");
        }
    }

    private void Write(string job, string name, byte[] content)
    {
        var directory = JobDirectory(job);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory, DirectoryMode);
            options.UnixCreateMode = StateFileMode;
        }

        var temporary = Path.Combine(directory, $".{name}.{Guid.NewGuid():N}.tmp");
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(directory, name), overwrite: true);
    }
}
