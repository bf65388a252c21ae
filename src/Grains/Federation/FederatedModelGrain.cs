using System.Security.Cryptography;
using MetaNode.Federation;
using MetaNode.Grains.Hosting;

namespace MetaNode.Grains.Federation;

[GenerateSerializer, Alias("MetaNode.Federation.FederatedModelState")]
public sealed class FederatedModelState
{
    [Id(0)] public byte[]? Model { get; set; }
}

/// <summary>A finalized model under its model reference (the SHA-256 of its canonical bytes): written once, read by anyone.</summary>
[GrainType("federated-model")]
public sealed class FederatedModelGrain(
    [PersistentState("model", MetaNodeNames.ChainStorage)] IPersistentState<FederatedModelState> state) : Grain, IFederatedModelGrain
{
    public async Task PutAsync(byte[] model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var reference = this.GetPrimaryKeyString();
        var actual = FederationHashing.ToHex(SHA256.HashData(model));
        if (!string.Equals(actual, reference, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidJobOperationException($"model bytes hash to {actual}, not to the model reference {reference}: nothing was stored.");
        }

        if (state.State.Model is not null)
        {
            return;
        }

        state.State.Model = model;
        await state.WriteStateAsync(cancellationToken);
    }

    public Task<byte[]?> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(state.State.Model);
}
