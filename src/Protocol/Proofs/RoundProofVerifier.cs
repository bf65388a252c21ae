using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Storage;
using Nethereum.Hex.HexConvertors.Extensions;

namespace MetaNode.Proofs;

/// <summary>One check of a proof: its name (<c>examples/round-proof.md</c>), whether it held, and what was found.</summary>
public sealed record ProofCheck(string Name, bool Passed, string Detail);

/// <summary>The checks run, in order; verification stops at the first that fails.</summary>
public sealed record ProofVerification(IReadOnlyList<ProofCheck> Checks)
{
    public bool Holds => Checks.Count == RoundProofVerifier.CheckNames.Count && Checks.All(c => c.Passed);

    public ProofCheck? Failure => Checks.FirstOrDefault(c => !c.Passed);
}

/// <summary>
/// Checks a round proof against a chain alone (<c>examples/round-proof.md</c>, "The checks, in order"). Needs no silo and no identity:
/// the registry's code, its events and one <c>eth_call</c> stand for everything the silo knew.
/// </summary>
public sealed class RoundProofVerifier(IProofChain chain, Func<string, CancellationToken, Task<byte[]>>? fetchCar = null, string? expectedRegistry = null)
{
    public static readonly IReadOnlyList<string> CheckNames =
    [
        "format", "chain", "registry-code", "transaction", "event", "registry-record", "validator-set", "validator-signatures",
        "receipt-signatures", "receipt-branches", "model",
    ];

    public static readonly string RoundFinalizedTopic = Topic("RoundFinalized(bytes32,uint64,bytes32,bytes32,bytes32,bytes)");
    public static readonly string ValidatorsRotatedTopic = Topic("ValidatorsRotated(uint64,address[],uint64)");

    /// <summary>secp256k1's n / 2: a signature with a larger s is the malleable twin of one with n − s.</summary>
    private static readonly byte[] HalfOrder = "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0".HexToByteArray();
    private static readonly byte[] GetRoundSelector = RegistryTypedData.Keccak("getRound(bytes32,uint64)"u8.ToArray())[..4];

    public async Task<ProofVerification> VerifyAsync(ReadOnlyMemory<byte> bundle, CancellationToken cancellationToken = default)
    {
        var checks = new List<ProofCheck>();
        RoundProof proof;
        try
        {
            proof = RoundProofJson.Parse(bundle.Span);
            checks.Add(new ProofCheck("format", true, $"job {proof.Job} round {proof.Round}, {proof.Validators.Count} validator signatures, {proof.Receipts.Count} receipts"));
        }
        catch (RoundProofFormatException exception)
        {
            checks.Add(new ProofCheck("format", false, exception.Message));
            return new ProofVerification(checks);
        }

        var run = new Run(proof);
        (string Name, Func<Task<string>> Check)[] steps =
        [
            ("chain", () => CheckChainAsync(run, cancellationToken)),
            ("registry-code", () => CheckRegistryCodeAsync(run, cancellationToken)),
            ("transaction", () => CheckTransactionAsync(run, cancellationToken)),
            ("event", () => Task.FromResult(CheckEvent(run))),
            ("registry-record", () => CheckRegistryRecordAsync(run, cancellationToken)),
            ("validator-set", () => CheckValidatorSetAsync(run, cancellationToken)),
            ("validator-signatures", () => Task.FromResult(CheckValidatorSignatures(run))),
            ("receipt-signatures", () => Task.FromResult(CheckReceiptSignatures(run))),
            ("receipt-branches", () => Task.FromResult(CheckReceiptBranches(run))),
            ("model", () => CheckModelAsync(run, cancellationToken)),
        ];
        foreach (var (name, check) in steps)
        {
            try
            {
                checks.Add(new ProofCheck(name, true, await check()));
            }
            catch (ProofCheckFailedException exception)
            {
                checks.Add(new ProofCheck(name, false, exception.Message));
                break;
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested
                && exception is HttpRequestException or InvalidDataException or System.Text.Json.JsonException or TaskCanceledException)
            {
                // The node (or the gateway) could not answer what this check needs: the proof is not shown to hold.
                checks.Add(new ProofCheck(name, false, "could not read the chain: " + exception.Message));
                break;
            }
        }

        return new ProofVerification(checks);
    }

    private async Task<string> CheckChainAsync(Run run, CancellationToken cancellationToken)
    {
        var id = await chain.GetChainIdAsync(cancellationToken);
        Require(id == run.Proof.ChainId, $"the node is chain {id}; the bundle is from chain {run.Proof.ChainId}.");
        return $"chain {id}";
    }

    private async Task<string> CheckRegistryCodeAsync(Run run, CancellationToken cancellationToken)
    {
        var registry = run.Proof.Registry;
        Require(
            expectedRegistry is null || string.Equals(expectedRegistry, registry, StringComparison.OrdinalIgnoreCase),
            $"the bundle names registry {registry}, not {expectedRegistry}.");
        var mismatch = RegistryCode.Instance.Mismatch(await chain.GetCodeAsync(registry, cancellationToken), run.Domain);
        Require(mismatch is null, $"{registry} is not a ResultRegistry of this chain: {mismatch}");
        return $"{registry} runs the ResultRegistry's code" + (expectedRegistry is null ? " (registry not pinned: pass --registry to require one)" : ", as required");
    }

    private async Task<string> CheckTransactionAsync(Run run, CancellationToken cancellationToken)
    {
        var transaction = run.Proof.Transaction;
        var receipt = await chain.GetTransactionReceiptAsync(transaction.Hash, cancellationToken);
        Require(receipt is not null, $"the node knows no transaction {transaction.Hash}.");
        Require(receipt!.Succeeded, $"transaction {transaction.Hash} failed (status 0).");
        Require(receipt.To == run.Proof.Registry, $"transaction {transaction.Hash} was sent to {receipt.To ?? "no address"}, not the registry.");
        Require(receipt.BlockNumber == transaction.BlockNumber, $"transaction {transaction.Hash} is in block {receipt.BlockNumber}, not {transaction.BlockNumber}.");
        Require(receipt.BlockHash == transaction.BlockHash, $"transaction {transaction.Hash} is in block {receipt.BlockHash}, not {transaction.BlockHash}.");
        var canonical = await chain.GetBlockHashAsync(transaction.BlockNumber, cancellationToken);
        Require(canonical == transaction.BlockHash, $"block {transaction.BlockNumber} of the canonical chain is {canonical ?? "missing"}, not {transaction.BlockHash}.");
        run.Receipt = receipt;
        return $"{transaction.Hash} succeeded in block {transaction.BlockNumber}";
    }

    private static string CheckEvent(Run run)
    {
        var proof = run.Proof;
        var logs = run.Receipt!.Logs
            .Where(l => l.Address == proof.Registry && l.Topics.Count == 3 && l.Topics[0] == RoundFinalizedTopic
                && l.Topics[1] == run.JobTopic && l.Topics[2] == run.RoundTopic)
            .ToList();
        Require(logs.Count == 1, $"the transaction holds {logs.Count} RoundFinalized events of the registry for job {proof.Job} round {proof.Round}, not one.");
        var data = logs[0].Data;
        var expected = RoundFinalizedData(proof);
        Require(data.Length == expected.Length, $"the event's data is {data.Length} bytes, not the {expected.Length} of the bundle's fields.");
        Require(data.AsSpan(0, 32).SequenceEqual(expected.AsSpan(0, 32)), $"the event records result hash {HexValues.ToHex(data[..32])}, the bundle {proof.ResultHash}.");
        Require(data.AsSpan(32, 32).SequenceEqual(expected.AsSpan(32, 32)), $"the event records receipts root {HexValues.ToHex(data[32..64])}, the bundle {proof.ReceiptsRoot}.");
        Require(data.AsSpan(64, 32).SequenceEqual(expected.AsSpan(64, 32)), $"the event records model ref {HexValues.ToHex(data[64..96])}, the bundle {proof.ModelRef}.");
        Require(
            data.AsSpan().SequenceEqual(expected),
            $"the event records model CID {(RegistryModelCid.TryFromBytes(data.AsSpan(160, Math.Min(36, Math.Max(0, data.Length - 160))), out var cid) ? cid : "(malformed)")}, the bundle {proof.ModelCid}.");
        run.EventLog = logs[0];
        return $"RoundFinalized at log {logs[0].LogIndex} matches the bundle";
    }

    private async Task<string> CheckRegistryRecordAsync(Run run, CancellationToken cancellationToken)
    {
        var proof = run.Proof;
        var output = await chain.CallAsync(proof.Registry, [.. GetRoundSelector, .. run.JobWord, .. Word(proof.Round)], cancellationToken);
        Require(output.Length == 64 && output.AsSpan(0, 24).IndexOfAnyExcept((byte)0) < 0 && output.AsSpan(56, 8).IndexOfAnyExcept((byte)0) < 0, "getRound answered something that is not (uint64, bytes24).");
        var block = BinaryPrimitives.ReadInt64BigEndian(output.AsSpan(24, 8));
        Require(block == proof.Transaction.BlockNumber, block == 0 ? "the registry holds no record of this round." : $"the registry records the round in block {block}, not {proof.Transaction.BlockNumber}.");
        var commitment = RegistryTypedData.Commitment(run.ChainRound);
        Require(output.AsSpan(32, 24).SequenceEqual(commitment), $"the registry's commitment {HexValues.ToHex(output[32..56])} is not the bundle's {HexValues.ToHex(commitment)}.");
        return $"getRound: block {block}, commitment {HexValues.ToHex(commitment)}";
    }

    private async Task<string> CheckValidatorSetAsync(Run run, CancellationToken cancellationToken)
    {
        var proof = run.Proof;
        var logs = (await chain.GetLogsAsync(proof.Registry, ValidatorsRotatedTopic, 0, proof.Transaction.BlockNumber, cancellationToken))
            .OrderBy(l => l.BlockNumber).ThenBy(l => l.LogIndex).ToList();
        Require(logs.Count > 0, "the registry emitted no ValidatorsRotated event up to the round's block.");
        var deployment = await chain.GetTransactionReceiptAsync(logs[0].TransactionHash, cancellationToken);
        Require(deployment?.ContractAddress == proof.Registry, $"the first ValidatorsRotated event (transaction {logs[0].TransactionHash}) is not from the registry's deployment.");
        (long SetId, IReadOnlyList<string> Validators, long Threshold, long Block)? current = null;
        for (var i = 0; i < logs.Count; i++)
        {
            var log = logs[i];
            Require(log.Address == proof.Registry && log.Topics.Count == 2, $"ValidatorsRotated event {i} is malformed.");
            var setId = log.Topics[1].HexToByteArray();
            Require(setId.Length == 32 && setId.AsSpan(0, 24).IndexOfAnyExcept((byte)0) < 0 && BinaryPrimitives.ReadInt64BigEndian(setId.AsSpan(24)) == i + 1, $"ValidatorsRotated event {i} names set {log.Topics[1]}, not {i + 1}.");
            var decoded = DecodeRotation(log.Data);
            Require(decoded is not null, $"the data of ValidatorsRotated event {i} (set {i + 1}) is malformed.");
            var before = log.BlockNumber < run.EventLog!.BlockNumber || (log.BlockNumber == run.EventLog.BlockNumber && log.LogIndex < run.EventLog.LogIndex);
            if (before)
            {
                current = (i + 1, decoded!.Value.Validators, decoded.Value.Threshold, log.BlockNumber);
            }
        }

        Require(current is not null, "no validator set was in force before the round's event.");
        run.Validators = current!.Value.Validators;
        run.Threshold = current.Value.Threshold;
        return $"set {current.Value.SetId} from block {current.Value.Block}: {current.Value.Validators.Count} validators, threshold {current.Value.Threshold}";
    }

    private static string CheckValidatorSignatures(Run run)
    {
        var digest = RegistryTypedData.FinalizeDigest(run.Domain, run.ChainRound);
        for (var i = 0; i < run.Proof.Validators.Count; i++)
        {
            var validator = run.Proof.Validators[i];
            var signer = Recover(digest, validator.Signature, $"validators[{i}]'s signature");
            Require(signer == validator.Address, $"validators[{i}]'s signature recovers to {signer}, not {validator.Address}.");
            Require(run.Validators!.Contains(validator.Address, StringComparer.Ordinal), $"validators[{i}] {validator.Address} is not in the validator set in force.");
        }

        Require(run.Proof.Validators.Count >= run.Threshold, $"{run.Proof.Validators.Count} validators signed; the set's threshold is {run.Threshold}.");
        return $"{run.Proof.Validators.Count} distinct validators of the set signed the round (threshold {run.Threshold})";
    }

    private static string CheckReceiptSignatures(Run run)
    {
        Require(run.Proof.Round <= int.MaxValue, $"round {run.Proof.Round} is past any round a job runs.");
        foreach (var (receipt, i) in run.Proof.Receipts.Select((r, i) => (r, i)))
        {
            var signer = Recover(VPodTypedData.ReceiptDigest(run.TrainingReceipt(receipt), run.Proof.ChainId), receipt.Signature, $"receipts[{i}]'s signature");
            Require(signer == receipt.Address, $"receipts[{i}] ({receipt.VPod})'s signature recovers to {signer}, not {receipt.Address}.");
        }

        return $"{run.Proof.Receipts.Count} receipts, each signed by its vPod's key";
    }

    private static string CheckReceiptBranches(Run run)
    {
        var root = run.Proof.ReceiptsRoot.HexToByteArray();
        var leaves = new List<byte[]>();
        foreach (var (receipt, i) in run.Proof.Receipts.Select((r, i) => (r, i)))
        {
            var leaf = ReceiptHashing.Hash(run.TrainingReceipt(receipt));
            Require(ReceiptMerkleTree.Verify(root, leaf, receipt.Branch.Select(b => b.HexToByteArray())), $"receipts[{i}] ({receipt.VPod})'s branch does not lead to the receipts root.");
            leaves.Add(leaf);
        }

        byte[] whole;
        try
        {
            whole = ReceiptMerkleTree.Root(leaves);
        }
        catch (ArgumentException exception)
        {
            throw new ProofCheckFailedException($"the receipts do not form a tree: {exception.Message}");
        }

        Require(whole.AsSpan().SequenceEqual(root), "the receipts' own tree has another root: a receipt under the root is missing from the bundle.");
        return $"every branch leads to {run.Proof.ReceiptsRoot}, and the receipts are all its leaves";
    }

    private async Task<string> CheckModelAsync(Run run, CancellationToken cancellationToken)
    {
        var proof = run.Proof;
        var source = "embedded";
        var car = proof.ModelCar;
        if (car is null)
        {
            Require(fetchCar is not null, "the bundle holds no model; give --ipfs-gateway to fetch it by CID.");
            try
            {
                car = await fetchCar!(proof.ModelCid, cancellationToken);
                source = "from the gateway";
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException)
            {
                throw new ProofCheckFailedException($"the gateway did not give {proof.ModelCid}: {exception.Message}");
            }
        }

        var root = Cid.Parse(proof.ModelCid);
        byte[] model;
        int blockCount;
        try
        {
            var (roots, blocks) = Car.Read(car);
            Require(roots.Count == 1 && roots[0].Equals(root), $"the CAR's roots are [{string.Join(", ", roots)}], not [{proof.ModelCid}].");
            var byCid = new Dictionary<Cid, byte[]>();
            foreach (var block in blocks)
            {
                byCid[block.Cid] = block.Data;
            }

            using var output = new MemoryStream();
            await UnixFsFile.ExportAsync(root, (cid, _) => Task.FromResult(byCid.GetValueOrDefault(cid)), output, cancellationToken);
            model = output.ToArray();
            blockCount = blocks.Count;
        }
        catch (Exception exception) when (exception is FormatException or InvalidDataException or ArgumentException)
        {
            throw new ProofCheckFailedException($"the model's CAR ({source}) does not hold the file {proof.ModelCid}: {exception.Message}");
        }

        Require(FederationHashing.ToHex(SHA256.HashData(model)) == proof.ModelRef, $"the model's {model.Length} bytes do not hash (SHA-256) to the model ref {proof.ModelRef}.");
        Require(FederationHashing.ToHex(FederationHashing.Keccak256(model)) == proof.ResultHash, $"the model's {model.Length} bytes do not hash (keccak-256) to the result hash {proof.ResultHash}.");
        return $"{model.Length} bytes in {blockCount} blocks ({source}) are the signed model {proof.ModelCid}";
    }

    /// <summary>The signer of a 65-byte signature in Ethereum's form (v 27 or 28, low s); fails the check otherwise.</summary>
    private static string Recover(byte[] digest, string signatureHex, string what)
    {
        var signature = signatureHex.HexToByteArray();
        Require(signature[64] is 27 or 28, $"{what} has v = {signature[64]}, not 27 or 28.");
        Require(signature.AsSpan(32, 32).SequenceCompareTo(HalfOrder) <= 0, $"{what} has a high s (the malleable form).");
        return EthereumSignatures.RecoverAddress(digest, signature) ?? throw new ProofCheckFailedException($"{what} recovers no public key.");
    }

    /// <summary>The RoundFinalized data the contract emits for the bundle's fields: three words, the offset 0x80, the CID's length and its 36 bytes padded.</summary>
    private static byte[] RoundFinalizedData(RoundProof proof)
    {
        var cid = Cid.Parse(proof.ModelCid).ToBytes();
        var data = new byte[5 * 32 + (cid.Length + 31) / 32 * 32];
        proof.ResultHash.HexToByteArray().CopyTo(data, 0);
        proof.ReceiptsRoot.HexToByteArray().CopyTo(data, 32);
        proof.ModelRef.HexToByteArray().CopyTo(data, 64);
        data[127] = 0x80;
        BinaryPrimitives.WriteInt32BigEndian(data.AsSpan(156), cid.Length);
        cid.CopyTo(data, 160);
        return data;
    }

    /// <summary>ABI (address[] validators, uint64 threshold), exactly as the contract encodes it; null when it is not.</summary>
    private static (IReadOnlyList<string> Validators, long Threshold)? DecodeRotation(byte[] data)
    {
        if (data.Length < 96 || (data.Length - 96) % 32 != 0 || !IsWord(data.AsSpan(0, 32), 0x40)
            || !TryUInt64(data.AsSpan(32, 32), out var threshold) || !TryUInt64(data.AsSpan(64, 32), out var count)
            || (ulong)(data.Length - 96) / 32 != count)
        {
            return null;
        }

        var validators = new List<string>();
        for (var i = 0; i < (int)count; i++)
        {
            var word = data.AsSpan(96 + 32 * i, 32);
            if (word[..12].IndexOfAnyExcept((byte)0) >= 0)
            {
                return null;
            }

            validators.Add(HexValues.ToHex(word[12..].ToArray()));
        }

        return (validators, (long)threshold);
    }

    private static bool IsWord(ReadOnlySpan<byte> word, ulong value) => TryUInt64(word, out var actual) && actual == value;

    private static bool TryUInt64(ReadOnlySpan<byte> word, out ulong value)
    {
        value = BinaryPrimitives.ReadUInt64BigEndian(word[24..]);
        return word[..24].IndexOfAnyExcept((byte)0) < 0 && value <= long.MaxValue;
    }

    private static byte[] Word(long value)
    {
        var word = new byte[32];
        BinaryPrimitives.WriteInt64BigEndian(word.AsSpan(24), value);
        return word;
    }

    private static string Topic(string signature) => HexValues.ToHex(RegistryTypedData.Keccak(Encoding.UTF8.GetBytes(signature)));

    private static void Require(bool condition, string failure)
    {
        if (!condition)
        {
            throw new ProofCheckFailedException(failure);
        }
    }

    /// <summary>What the checks learn on the way, for the checks after them.</summary>
    private sealed class Run(RoundProof proof)
    {
        public RoundProof Proof { get; } = proof;

        public RegistryDomain Domain { get; } = new(proof.ChainId, proof.Registry);

        public byte[] JobWord { get; } = HexValues.JobIdToBytes32(proof.Job);

        public string JobTopic => HexValues.ToHex(JobWord);

        public string RoundTopic => HexValues.ToHex(Word(Proof.Round));

        public Chain.RoundResult ChainRound => new()
        {
            JobId = Proof.Job,
            Round = Proof.Round,
            ResultHash = Proof.ResultHash,
            ReceiptsRoot = Proof.ReceiptsRoot,
            ModelRef = Proof.ModelRef,
            ModelCid = Proof.ModelCid,
        };

        public ProofTransactionReceipt? Receipt { get; set; }

        public ProofLog? EventLog { get; set; }

        public IReadOnlyList<string>? Validators { get; set; }

        public long Threshold { get; set; }

        public TrainingReceipt TrainingReceipt(ProofReceipt receipt) =>
            new(Proof.Job, (int)Proof.Round, receipt.VPod, receipt.SampleCount, receipt.UpdateHash, receipt.Signature);
    }

    private sealed class ProofCheckFailedException(string message) : Exception(message);
}
