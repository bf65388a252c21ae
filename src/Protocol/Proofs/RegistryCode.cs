using System.Buffers.Binary;
using System.Text.Json;
using MetaNode.Chain;
using Nethereum.Hex.HexConvertors.Extensions;

namespace MetaNode.Proofs;

/// <summary>
/// The ResultRegistry's compiled runtime code (<c>contracts/artifacts/ResultRegistry.json</c>, embedded) and where the constructor
/// fills its immutables in: the chain id and the EIP-712 domain separator it caches.
/// </summary>
public sealed class RegistryCode
{
    private static readonly Lazy<RegistryCode> Embedded = new(Load);

    private RegistryCode(byte[] runtime, IReadOnlyList<(int Start, int Length)> immutables)
    {
        Runtime = runtime;
        Immutables = immutables;
    }

    public static RegistryCode Instance => Embedded.Value;

    /// <summary>The deployed bytecode with zeros where the immutables go.</summary>
    public byte[] Runtime { get; }

    public IReadOnlyList<(int Start, int Length)> Immutables { get; }

    /// <summary>
    /// Null when <paramref name="code"/> is this contract deployed at <paramref name="domain"/>'s registry on its chain: the same length,
    /// each immutable range holding the chain id word or the domain separator, and every other byte the compiled one. Else why not.
    /// </summary>
    public string? Mismatch(ReadOnlySpan<byte> code, RegistryDomain domain)
    {
        ArgumentNullException.ThrowIfNull(domain);
        if (code.IsEmpty)
        {
            return "there is no contract at that address.";
        }

        if (code.Length != Runtime.Length)
        {
            return $"its code is {code.Length} bytes; the ResultRegistry's is {Runtime.Length}.";
        }

        var chainWord = new byte[32];
        BinaryPrimitives.WriteInt64BigEndian(chainWord.AsSpan(24), domain.ChainId);
        var separator = RegistryTypedData.DomainSeparator(domain);
        var masked = code.ToArray();
        foreach (var (start, length) in Immutables)
        {
            var value = masked.AsSpan(start, length);
            if (!value.SequenceEqual(chainWord) && !value.SequenceEqual(separator))
            {
                return $"the immutable at byte {start} is neither the chain id nor the registry's domain separator.";
            }

            value.Clear();
        }

        var differs = masked.AsSpan().CommonPrefixLength(Runtime);
        return differs == Runtime.Length ? null : $"its code differs from the ResultRegistry's at byte {differs}.";
    }

    private static RegistryCode Load()
    {
        using var stream = typeof(RegistryCode).Assembly.GetManifestResourceStream("MetaNode.Contracts.ResultRegistry.json")
            ?? throw new InvalidOperationException("the ResultRegistry artifact is not embedded in MetaNode.Protocol.");
        using var document = JsonDocument.Parse(stream);
        var root = document.RootElement;
        return new RegistryCode(
            root.GetProperty("deployedBytecode").GetString()!.HexToByteArray(),
            [.. root.GetProperty("immutableReferences").EnumerateArray().Select(r => (r.GetProperty("start").GetInt32(), r.GetProperty("length").GetInt32()))]);
    }
}
