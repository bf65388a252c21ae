using MetaNode.Federation;
using MetaNode.Grains.Hosting;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.FederatedDatasetState")]
public sealed class FederatedDatasetState
{
    [Id(0)] public byte[]? Data { get; set; }
}

/// <summary>An uploaded data set under the SHA-256 of its bytes: refused when too large or hashing to another key; written once.</summary>
[GrainType("federated-dataset")]
public sealed class FederatedDatasetGrain(
    [PersistentState("dataset", MetaNodeNames.ChainStorage)] IPersistentState<FederatedDatasetState> state,
    IOptions<DatasetOptions> options) : Grain, IFederatedDatasetGrain
{
    public async Task PutAsync(byte[] data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var key = this.GetPrimaryKeyString();
        if (DatasetUploads.Refusal(key, data.Length, options.Value.MaxUploadBytes) is { } refusal)
        {
            throw new InvalidDatasetException(refusal);
        }

        var actual = DatasetFiles.Hash(data);
        if (!string.Equals(actual, key, StringComparison.Ordinal))
        {
            throw new InvalidDatasetException($"data set bytes hash to {actual}, not to {key}: nothing was stored.");
        }

        if (state.State.Data is not null)
        {
            return;
        }

        state.State.Data = data;
        await state.WriteStateAsync(cancellationToken);
    }

    public Task<byte[]?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(state.State.Data);
}

/// <summary>The silo's rule for an upload, before anything is hashed or stored.</summary>
public static class DatasetUploads
{
    public static string? Refusal(string key, long length, long maxBytes) =>
        !DatasetReferences.IsValidHash(key) ? $"data set key '{key}' is not 64 lower-case hex digits (a SHA-256)."
        : length == 0 ? "the uploaded data set is empty."
        : length > maxBytes ? $"the uploaded data set is {length} bytes, more than this silo's limit of {maxBytes} bytes ({DatasetOptions.SectionName}:{nameof(DatasetOptions.MaxUploadBytes)}); nothing was stored."
        : null;
}
