using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using MetaNode.Chain;
using NBitcoin.Secp256k1;
using Nethereum.Signer;

namespace MetaNode.Bench;

/// <summary>
/// secp256k1 sign and recover side by side in alternating rounds over the same keys and digests: Nethereum (BouncyCastle), the
/// managed port of libsecp256k1 the project used before (NBitcoin.Secp256k1), and the project's path (libsecp256k1 itself,
/// through Secp256k1.Net): what a validator pays per receipt and the job per vote.
/// </summary>
internal static class SignatureBench
{
    public static void Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var keys = Enumerable.Range(0, count).Select(_ => EthECKey.GenerateKey()).ToArray();
        var privateKeys = keys.Select(k => EthereumSignatures.PrivateKeyBytes(k.GetPrivateKeyAsBytes())).ToArray();
        var digests = Enumerable.Range(0, count).Select(_ => RandomNumberGenerator.GetBytes(32)).ToArray();
        var signatures = privateKeys.Zip(digests, (k, d) => EthereumSignatures.Sign(k, d)).ToArray();
        var nethereumSignatures = signatures.Select(s => EthECDSASignatureFactory.FromComponents(s[..32], s[32..64], s[64])).ToArray();

        // Warm-up (JIT, precomputed tables) outside the measured rounds.
        Measure(() => keys[0].SignAndCalculateV(digests[0]), 1);
        Measure(() => EthereumSignatures.Sign(privateKeys[0], digests[0]), 1);
        Measure(() => EthECKey.RecoverFromSignature(nethereumSignatures[0], digests[0]), 1);
        Measure(() => EthereumSignatures.RecoverAddress(digests[0], signatures[0]), 1);
        Measure(() => ManagedSign(privateKeys[0], digests[0]), 1);
        Measure(() => ManagedRecover(digests[0], signatures[0]), 1);
        for (var i = 0; i < count; i++)
        {
            if (!ManagedSign(privateKeys[i], digests[i]).AsSpan().SequenceEqual(signatures[i].AsSpan(0, 64)) || ManagedRecover(digests[i], signatures[i]) != EthereumSignatures.RecoverAddress(digests[i], signatures[i]))
            {
                throw new InvalidOperationException("the managed port and libsecp256k1 disagree on a signature.");
            }
        }

        Console.WriteLine($"secp256k1, {count} keys and digests per round, {rounds} alternating rounds; µs per operation (median over rounds)");
        var results = new Dictionary<string, List<double>>();
        for (var round = 0; round < rounds; round++)
        {
            Add(results, "sign: Nethereum", Measure(i => keys[i].SignAndCalculateV(digests[i]), count));
            Add(results, "sign: NBitcoin.Secp256k1 (before)", Measure(i => ManagedSign(privateKeys[i], digests[i]), count));
            Add(results, "sign: libsecp256k1 (the project's path)", Measure(i => EthereumSignatures.Sign(privateKeys[i], digests[i]), count));
            Add(results, "recover: Nethereum", Measure(i => EthECKey.RecoverFromSignature(nethereumSignatures[i], digests[i]).GetPublicAddress(), count));
            Add(results, "recover: NBitcoin.Secp256k1 (before)", Measure(i => ManagedRecover(digests[i], signatures[i]), count));
            Add(results, "recover: libsecp256k1 (the project's path)", Measure(i => EthereumSignatures.RecoverAddress(digests[i], signatures[i]), count));
        }

        Console.WriteLine("| operation | µs/op | ratio to Nethereum |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (name, values) in results)
        {
            var median = values.Order().ElementAt(values.Count / 2);
            var baseline = results[name.Split(':')[0] + ": Nethereum"].Order().ElementAt(values.Count / 2);
            Console.WriteLine(FormattableString.Invariant($"| {name} | {median:F1} | {median / baseline:F3} |"));
        }
    }

    /// <summary>The managed port's signature (64 compact bytes), as the project made it before.</summary>
    private static byte[] ManagedSign(byte[] privateKey, byte[] digest)
    {
        using var key = ECPrivKey.Create(privateKey);
        key.TrySignRecoverable(digest, out var signature);
        var bytes = new byte[64];
        signature!.WriteToSpanCompact(bytes, out _);
        return bytes;
    }

    /// <summary>The managed port's recovery, to the address as the project computed it before.</summary>
    private static string? ManagedRecover(byte[] digest, byte[] signature)
    {
        if (!SecpRecoverableECDSASignature.TryCreateFromCompact(signature.AsSpan(0, 64), signature[64] - 27, out var recoverable)
            || !ECPubKey.TryRecover(Context.Instance, recoverable!, digest, out var publicKey))
        {
            return null;
        }

        var uncompressed = new byte[65];
        publicKey!.WriteToSpan(compressed: false, uncompressed, out _);
        return "0x" + Convert.ToHexStringLower(Nethereum.Util.Sha3Keccack.Current.CalculateHash(uncompressed[1..]).AsSpan(12));
    }

    private static void Add(Dictionary<string, List<double>> results, string name, double value)
    {
        if (!results.TryGetValue(name, out var values))
        {
            values = [];
            results[name] = values;
        }

        values.Add(value);
    }

    private static double Measure(Action<int> operation, int count)
    {
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            operation(i);
        }

        return watch.Elapsed.TotalMicroseconds / count;
    }

    private static void Measure(Action operation, int count) => Measure(_ => operation(), count);
}
