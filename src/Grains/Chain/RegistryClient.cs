using System.Globalization;
using System.Numerics;
using MetaNode.Chain;
using Nethereum.ABI.FunctionEncoding;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;

namespace MetaNode.Grains.Chain;

/// <summary>The data (non-indexed) fields of a <c>RoundFinalized</c> log; <see cref="ModelCid"/> is CID text, empty for none.</summary>
public sealed record RoundFinalizedData(string ResultHash, string ReceiptsRoot, string ModelRef, string ModelCid);

/// <summary>The registry's on-chain state as one read.</summary>
public sealed record RegistryState(string Registry, IReadOnlyList<string> Validators, int Threshold, long SetId);

/// <summary>
/// Reads the ResultRegistry and encodes its calls from the committed ABI (through Nethereum's contract layer), and
/// turns its custom errors into readable reasons. Stateless apart from the connector.
/// </summary>
public sealed class RegistryClient
{
    /// <summary>keccak256("RoundFinalized(bytes32,uint64,bytes32,bytes32,bytes32,bytes)").</summary>
    public static readonly string RoundFinalizedTopic = HexValues.ToHex(RegistryTypedData.Keccak("RoundFinalized(bytes32,uint64,bytes32,bytes32,bytes32,bytes)"u8.ToArray()));

    /// <summary>The event's data head: resultHash, receiptsRoot, modelRef and the offset of modelCid, then modelCid's length word.</summary>
    private const int RoundFinalizedHead = 4 * 32;

    private readonly ChainConnector _connector;

    public RegistryClient(ChainConnector connector)
    {
        _connector = connector;
    }

    public ChainConnector Connector => _connector;

    public static Contract Contract(Web3 web3, string registry) => web3.Eth.GetContract(RegistryArtifact.Instance.Abi, registry);

    /// <summary>The contract layer with no connection, for encoding and decoding only.</summary>
    public static Contract Encoder(string? registry = null) => new(null, RegistryArtifact.Instance.Abi, registry);

    /// <summary>The current set id, threshold and validators (ascending) in one <c>eth_call</c> (<c>currentSet()</c>).</summary>
    public async Task<RegistryState> GetStateAsync(string registry, CancellationToken cancellationToken)
    {
        var outputs = await _connector.CallAsync(
            "currentSet",
            w => Contract(w, registry).GetFunction("currentSet").CallDecodingToDefaultAsync(),
            cancellationToken);
        var validators = ((System.Collections.IEnumerable)outputs[2].Result).Cast<object>().Select(v => v.ToString()!.ToLowerInvariant()).ToArray();
        return new RegistryState(registry, validators, (int)(BigInteger)outputs[1].Result, (long)(BigInteger)outputs[0].Result);
    }

    public async Task<bool> HasCodeAsync(string address, CancellationToken cancellationToken)
    {
        var code = await _connector.CallAsync("eth_getCode", w => w.Eth.GetCode.SendRequestAsync(address), cancellationToken);
        return !string.IsNullOrEmpty(code) && code != "0x";
    }

    /// <summary>The round as recorded: <c>getRound</c> gives the block and commitment; the event at that block gives the fields, checked against the commitment.</summary>
    public async Task<RoundRecord> GetRoundAsync(string registry, string jobId, long round, CancellationToken cancellationToken)
    {
        var jobBytes = HexValues.JobIdToBytes32(jobId);
        HexValues.ValidateRound(round);
        var outputs = await _connector.CallAsync(
            "getRound",
            w => Contract(w, registry).GetFunction("getRound").CallDecodingToDefaultAsync(jobBytes, new BigInteger(round)),
            cancellationToken);
        var block = (long)(BigInteger)outputs[0].Result;
        var commitment = (byte[])outputs[1].Result;
        var record = new RoundRecord { JobId = jobId, Round = round, Registry = registry, Finalized = block != 0 };
        if (block == 0)
        {
            return record;
        }

        record = record with { BlockNumber = block, Commitment = HexValues.ToHex(commitment) };
        var filter = new NewFilterInput
        {
            Address = [registry],
            FromBlock = new BlockParameter((ulong)block),
            ToBlock = new BlockParameter((ulong)block),
            Topics = [RoundFinalizedTopic, HexValues.ToHex(jobBytes), HexValues.ToHex(Word(round))],
        };
        var logs = await _connector.CallAsync("eth_getLogs", w => w.Eth.Filters.GetLogs.SendRequestAsync(filter), cancellationToken);
        foreach (var log in logs.Where(l => !l.Removed))
        {
            if (DecodeRoundFinalizedData(log.Data.HexToByteArray()) is not { } fields)
            {
                continue;
            }

            var candidate = new RoundResult
            {
                JobId = jobId,
                Round = round,
                ResultHash = fields.ResultHash,
                ReceiptsRoot = fields.ReceiptsRoot,
                ModelRef = fields.ModelRef,
                ModelCid = fields.ModelCid,
            };
            if (RegistryTypedData.Commitment(candidate).AsSpan().SequenceEqual(commitment))
            {
                return record with
                {
                    ResultHash = candidate.ResultHash,
                    ReceiptsRoot = candidate.ReceiptsRoot,
                    ModelRef = candidate.ModelRef,
                    ModelCid = fields.ModelCid,
                    TransactionHash = log.TransactionHash,
                    BlockHash = log.BlockHash,
                    Verified = true,
                };
            }
        }

        return record;
    }

    /// <summary>
    /// The data of a <c>RoundFinalized</c> log, ABI-encoded as the contract emits it: three words, the offset of <c>modelCid</c>
    /// (0x80, right after the head), its length and its bytes right-padded with zeros to a whole word. Null when the data is not
    /// exactly that (another offset, a length past the data, trailing or non-zero padding bytes) or the bytes are not one CID.
    /// </summary>
    public static RoundFinalizedData? DecodeRoundFinalizedData(ReadOnlySpan<byte> data)
    {
        if (data.Length < RoundFinalizedHead + 32 || data.Length % 32 != 0
            || !IsWord(data.Slice(96, 32), RoundFinalizedHead)
            || !TryWord(data.Slice(RoundFinalizedHead, 32), out var length)
            || length > (ulong)(data.Length - RoundFinalizedHead - 32)
            || data.Length != RoundFinalizedHead + 32 + (int)((length + 31) / 32 * 32))
        {
            return null;
        }

        var cid = data.Slice(RoundFinalizedHead + 32, (int)length);
        if (data[(RoundFinalizedHead + 32 + (int)length)..].ContainsAnyExcept((byte)0)
            || !RegistryModelCid.TryFromBytes(cid, out var text))
        {
            return null;
        }

        return new RoundFinalizedData(HexValues.ToHex(data[..32].ToArray()), HexValues.ToHex(data[32..64].ToArray()), HexValues.ToHex(data[64..96].ToArray()), text);
    }

    /// <summary><c>finalizeRound()</c>'s packed calldata (<see cref="RegistryFinalizeCalldata"/>) against the current set <paramref name="validators"/>.</summary>
    public static string EncodeFinalize(RoundResult round, IEnumerable<ValidatorSignature> signatures, IReadOnlyList<string> validators) =>
        HexValues.ToHex(RegistryFinalizeCalldata.Encode(round, signatures, validators));

    public static string EncodeRotate(string registry, IReadOnlyList<string> validators, int threshold, IEnumerable<ValidatorSignature> signatures) =>
        Encoder(registry).GetFunction("rotateValidators").GetData(
            validators.Select(v => HexValues.NormalizeAddress(v)).ToList(),
            new BigInteger(threshold),
            RegistryTypedData.PackSorted(signatures));

    public static string EncodeDeploy(IReadOnlyList<string> validators, int threshold) =>
        new DeployContractTransactionBuilder().GetData(
            RegistryArtifact.Instance.Bytecode,
            RegistryArtifact.Instance.Abi,
            validators.Select(v => HexValues.NormalizeAddress(v)).ToList(),
            new BigInteger(threshold));

    /// <summary>Validators sorted as the contract requires (ascending address, no duplicates).</summary>
    public static IReadOnlyList<string> SortValidators(IEnumerable<string> validators) =>
        validators.Select(v => HexValues.NormalizeAddress(v, "validator")).Distinct(StringComparer.Ordinal)
            .OrderBy(v => new BigInteger(v.HexToByteArray(), isUnsigned: true, isBigEndian: true)).ToArray();

    /// <summary>The revert data of a failed call, if the node sent any.</summary>
    public static string? RevertData(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case SmartContractCustomErrorRevertException custom:
                    return custom.ExceptionEncodedData;
                case RpcResponseException rpc when rpc.RpcError?.Data is { } data:
                    var text = data.ToString();
                    if (text is not null && text.StartsWith("0x", StringComparison.Ordinal))
                    {
                        return text;
                    }

                    break;
            }
        }

        return null;
    }

    /// <summary>A custom error as <c>Name(arg=value, ...)</c>, or the node's message.</summary>
    public static string DescribeRevert(Exception exception)
    {
        var data = RevertData(exception);
        if (data is not null && data.Length >= 10)
        {
            var error = Encoder().FindError(data);
            if (error is not null)
            {
                var values = error.DecodeExceptionEncodedDataToDefault(data);
                return $"{error.ErrorABI.Name}({string.Join(", ", values.Select(Format))})";
            }

            return $"revert data {data}";
        }

        return exception.GetBaseException().Message;
    }

    public static bool IsRevert(Exception exception) =>
        RevertData(exception) is not null
        || exception is SmartContractRevertException
        || (exception is RpcResponseException rpc && (rpc.RpcError?.Code == 3 || (rpc.RpcError?.Message?.Contains("revert", StringComparison.OrdinalIgnoreCase) ?? false)));

    private static string Format(ParameterOutput output)
    {
        var value = output.Result switch
        {
            byte[] bytes when output.Parameter.Type == "bytes32" && bytes.Length == 32 && bytes[0] != 0 && bytes.All(b => b == 0 || (b >= 0x20 && b < 0x7f))
                => $"'{HexValues.JobIdFromBytes32(bytes)}'",
            byte[] bytes => HexValues.ToHex(bytes),
            BigInteger number => number.ToString(CultureInfo.InvariantCulture),
            null => "null",
            var other => other.ToString(),
        };
        return $"{output.Parameter.Name}={value}";
    }

    /// <summary>A big-endian ABI word whose value fits a ulong.</summary>
    private static bool TryWord(ReadOnlySpan<byte> word, out ulong value)
    {
        value = 0;
        if (word[..24].ContainsAnyExcept((byte)0))
        {
            return false;
        }

        value = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(word[24..]);
        return true;
    }

    private static bool IsWord(ReadOnlySpan<byte> word, ulong expected) => TryWord(word, out var value) && value == expected;

    private static byte[] Word(long value)
    {
        var word = new byte[32];
        var big = new BigInteger(value).ToByteArray(isUnsigned: true, isBigEndian: true);
        big.CopyTo(word, 32 - big.Length);
        return word;
    }

    internal static HexBigInteger Hex(BigInteger value) => new(value);
}
