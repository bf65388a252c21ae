using System.Text.Json;

namespace MetaNode.Grains.Chain;

/// <summary>The committed ResultRegistry artifact (contracts/artifacts/ResultRegistry.json), embedded in this assembly.</summary>
public sealed class RegistryArtifact
{
    private static readonly Lazy<RegistryArtifact> Loaded = new(Load);

    private RegistryArtifact(string abi, string bytecode, string compiler)
    {
        Abi = abi;
        Bytecode = bytecode;
        Compiler = compiler;
    }

    public static RegistryArtifact Instance => Loaded.Value;

    public string Abi { get; }

    public string Bytecode { get; }

    public string Compiler { get; }

    private static RegistryArtifact Load()
    {
        using var stream = typeof(RegistryArtifact).Assembly.GetManifestResourceStream("MetaNode.Contracts.ResultRegistry.json")
            ?? throw new InvalidOperationException("the ResultRegistry artifact is not embedded in MetaNode.Grains; rebuild after 'npm run build' in contracts/.");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;
        return new RegistryArtifact(
            root.GetProperty("abi").GetRawText(),
            root.GetProperty("bytecode").GetString()!,
            root.GetProperty("compiler").GetString()!);
    }
}
