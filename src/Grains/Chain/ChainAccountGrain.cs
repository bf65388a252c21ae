// Longer than 400 lines: nonce assignment, persist-before-send and replacement of one account's transactions are one sequence over one state.
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using MetaNode.Chain;
using MetaNode.Grains.Hosting;
using MetaNode.VPods;
using Microsoft.Extensions.Logging;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.Hex.HexTypes;
using Nethereum.JsonRpc.Client;
using Nethereum.Model;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Signer;

namespace MetaNode.Grains.Chain;

/// <summary>
/// The only submitter for one account. Calls are not interleaved, so nonces are handed out one at a time. Every
/// transaction is persisted (with its signed bytes) before it is sent; a later call for the same operation, on any
/// silo, resumes it instead of sending another.
/// </summary>
[GrainType("chain-account")]
public sealed partial class ChainAccountGrain(
    [PersistentState("account", MetaNodeNames.ChainStorage)] IPersistentState<ChainAccountState> state,
    ChainConnector connector,
    RegistryClient registry,
    ChainAccounts accounts,
    TimeProvider time,
    MetaNodeMetrics metrics,
    ILogger<ChainAccountGrain> logger) : Grain, IChainAccountGrain
{
    private static readonly BigInteger Gwei = BigInteger.Pow(10, 9);

    private readonly RegistryClient _registry = registry;

    private string Address => this.GetPrimaryKeyString();

    private ChainAccountState State => state.State;

    private ChainOptions Options => connector.Options;

    public async Task<FinalizationResult> FinalizeRoundAsync(string registry, RoundResult round, IReadOnlyList<ValidatorSignature> signatures, CancellationToken cancellationToken = default)
    {
        registry = HexValues.NormalizeAddress(registry, "registry");
        var set = await _registry.GetStateAsync(registry, cancellationToken);
        return await FinalizeRoundInSetAsync(registry, round, signatures, set.Validators, cancellationToken);
    }

    public async Task<FinalizationResult> FinalizeRoundInSetAsync(string registry, RoundResult round, IReadOnlyList<ValidatorSignature> signatures, IReadOnlyList<string> validators, CancellationToken cancellationToken = default)
    {
        using var span = MetaNodeTracing.Start("metanode.chain.finalize", System.Diagnostics.ActivityKind.Client);
        span?.SetTag("metanode.job", round?.JobId);
        span?.SetTag("metanode.round", round?.Round);
        ArgumentNullException.ThrowIfNull(round);
        ArgumentNullException.ThrowIfNull(signatures);
        ArgumentNullException.ThrowIfNull(validators);
        registry = HexValues.NormalizeAddress(registry, "registry");
        var commitment = HexValues.ToHex(RegistryTypedData.Commitment(round));
        var operation = $"finalize:{registry}:{HexValues.ToHex(HexValues.JobIdToBytes32(round.JobId))}:{round.Round.ToString(CultureInfo.InvariantCulture)}";
        var signers = signatures.Select(s => s.Signer.ToLowerInvariant()).Order(StringComparer.Ordinal).ToArray();

        // Idempotency: a round already on chain is never sent again. Its gas estimate reverts with RoundAlreadyFinalized
        // (unless this grain has it in flight, which resumes instead), and the round on record is reported.
        var data = RegistryClient.EncodeFinalize(round, signatures, validators);
        TransactionResult receipt;
        try
        {
            receipt = await SubmitAsync(operation, registry, data, "finalizeRound", cancellationToken);
        }
        catch (ChainRevertException revert) when (revert.Reason.StartsWith("RoundAlreadyFinalized(", StringComparison.Ordinal))
        {
            var existing = await _registry.GetRoundAsync(registry, round.JobId, round.Round, cancellationToken);
            LogAlreadyFinalized(logger, round.JobId, round.Round, existing.BlockNumber ?? 0, Address);
            return AlreadyFinalized(existing, commitment, signers);
        }

        var record = await _registry.GetRoundAsync(registry, round.JobId, round.Round, cancellationToken);
        if (!receipt.Succeeded)
        {
            // Mined but reverted: someone else finalized the round first, or the signatures were refused.
            if (record.Finalized)
            {
                return AlreadyFinalized(record, commitment, signers) with { TransactionHash = receipt.TransactionHash, GasUsed = receipt.GasUsed };
            }

            metrics.TransactionFailed();
            throw new ChainRevertException("finalizeRound", $"transaction {receipt.TransactionHash} reverted in block {receipt.BlockNumber}");
        }

        LogFinalized(logger, round.JobId, round.Round, receipt.TransactionHash, receipt.BlockNumber, receipt.GasUsed);
        return new FinalizationResult
        {
            Outcome = record.TransactionHash is { } hash && !string.Equals(hash, receipt.TransactionHash, StringComparison.OrdinalIgnoreCase)
                ? FinalizationOutcome.AlreadyFinalized
                : FinalizationOutcome.Finalized,
            Record = record with { Matches = string.Equals(record.Commitment, commitment, StringComparison.OrdinalIgnoreCase) },
            TransactionHash = receipt.TransactionHash,
            GasUsed = receipt.GasUsed,
            Submitter = Address,
            Signers = signers,
            Latency = receipt.Latency,
        };
    }

    public async Task<FinalizationResult> FinalizeRoundWithThresholdAsync(string registry, RoundResult round, IReadOnlyList<ValidatorSignature> signatures, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        registry = HexValues.NormalizeAddress(registry, "registry");
        var set = await _registry.GetStateAsync(registry, cancellationToken);
        return await FinalizeRoundInSetAsync(registry, round, RegistryTypedData.LowestSigners(signatures, Math.Max(1, set.Threshold)), set.Validators, cancellationToken);
    }

    public Task<TransactionResult> DeployRegistryAsync(IReadOnlyList<string> validators, int threshold, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validators);
        var sorted = RegistryClient.SortValidators(validators);
        ValidateSet(sorted, threshold);
        var data = RegistryClient.EncodeDeploy(sorted, threshold);
        return SubmitAsync($"deploy:{Guid.NewGuid():N}", to: null, data, "deploy ResultRegistry", cancellationToken);
    }

    public async Task<TransactionResult> RotateValidatorsAsync(string registry, IReadOnlyList<string> validators, int threshold, IReadOnlyList<ValidatorSignature> signatures, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(validators);
        ArgumentNullException.ThrowIfNull(signatures);
        registry = HexValues.NormalizeAddress(registry, "registry");
        var sorted = RegistryClient.SortValidators(validators);
        ValidateSet(sorted, threshold);
        var data = RegistryClient.EncodeRotate(registry, sorted, threshold, signatures);
        var result = await SubmitAsync($"rotate:{registry}:{string.Join(',', sorted)}:{threshold}", registry, data, "rotateValidators", cancellationToken);
        if (!result.Succeeded)
        {
            metrics.TransactionFailed();
            throw new ChainRevertException("rotateValidators", $"transaction {result.TransactionHash} reverted");
        }

        return result;
    }

    public Task<BlockchainUsage> GetUsageAsync(CancellationToken cancellationToken = default) => Task.FromResult(new BlockchainUsage
    {
        Address = Address,
        TransactionsSubmitted = State.Submitted,
        TransactionsConfirmed = State.Confirmed,
        GasUsed = State.GasUsed,
        LastBlockSeen = connector.LastBlockSeen ?? State.LastBlockSeen,
        RpcLatencyMs = connector.RpcLatencyMs is { } ms ? Math.Round(ms, 2) : null,
    });

    private FinalizationResult AlreadyFinalized(RoundRecord record, string commitment, IReadOnlyList<string> signers) => new()
    {
        Outcome = FinalizationOutcome.AlreadyFinalized,
        Record = record with { Matches = string.Equals(record.Commitment, commitment, StringComparison.OrdinalIgnoreCase) },
        TransactionHash = record.TransactionHash,
        Submitter = Address,
        Signers = signers,
    };

    private static void ValidateSet(IReadOnlyList<string> validators, int threshold)
    {
        if (validators.Count is 0 or > 64)
        {
            throw new InvalidChainRequestException($"a validator set needs 1-64 distinct addresses, got {validators.Count}.");
        }

        if (threshold < 1 || threshold > validators.Count)
        {
            throw new InvalidChainRequestException($"threshold must be 1-{validators.Count} for {validators.Count} validators, got {threshold}.");
        }
    }

    /// <summary>
    /// Sends (or resumes) one transaction and waits for its confirmations: estimate under the cap, EIP-1559 fees, nonce,
    /// persist, send; poll receipts, re-broadcast if the node forgot it, replace it when stuck.
    /// </summary>
    private async Task<TransactionResult> SubmitAsync(string operation, string? to, string data, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await SubmitCoreAsync(operation, to, data, what, cancellationToken);
        }
        catch (ChainRevertException revert) when (revert.Reason.StartsWith("RoundAlreadyFinalized(", StringComparison.Ordinal))
        {
            // Not a failure: the round is on chain already (nothing was sent).
            throw;
        }
        catch (Exception exception) when (exception is ChainTransactionException or ChainRevertException)
        {
            metrics.TransactionFailed();
            throw;
        }
    }

    private async Task<TransactionResult> SubmitCoreAsync(string operation, string? to, string data, string what, CancellationToken cancellationToken)
    {
        var key = accounts.GetKey(Address);
        var chainId = await connector.GetChainIdAsync(cancellationToken);
        var watch = Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            if (!State.Pending.TryGetValue(operation, out var pending))
            {
                pending = await PrepareAsync(operation, to, data, what, key, chainId, cancellationToken);
                await SendAsync(pending, cancellationToken);
            }
            else
            {
                LogResuming(logger, Address, operation, pending.Nonce, pending.Hashes[^1]);
            }

            var result = await WaitAsync(pending, key, chainId, watch, cancellationToken);
            if (result is not null)
            {
                State.Pending.Remove(operation);
                State.Confirmed++;
                State.GasUsed += result.GasUsed;
                State.LastBlockSeen = result.BlockNumber;
                await state.WriteStateAsync(cancellationToken);
                connector.TransactionsConfirmed.Add(1);
                connector.GasUsed.Add(result.GasUsed);
                metrics.TransactionConfirmed(watch.Elapsed);

                // Not awaited: the balance is for the low-balance alert, and the result must not wait for another round trip.
                _ = ObserveBalanceAsync();
                return result;
            }

            // The nonce was used by something else (no receipt for any of our hashes): forget this version and start over.
            State.Pending.Remove(operation);
            State.NextNonce = -1;
            await state.WriteStateAsync(cancellationToken);
            if (attempt >= 2)
            {
                throw new ChainTransactionException($"{what} from {Address}: its nonce was taken by another transaction three times; is another process using this account?");
            }
        }
    }

    private async Task<PendingTransaction> PrepareAsync(string operation, string? to, string data, string what, EthECKey key, long chainId, CancellationToken cancellationToken)
    {
        // The estimate, the fees and the node's nonce are read at once (one round trip, not four); a revert is reported first.
        var estimating = EstimateGasAsync(to, data, what, cancellationToken);
        var pricing = FeesAsync(cancellationToken);
        var counting = connector.CallAsync("eth_getTransactionCount", w => w.Eth.Transactions.GetTransactionCount.SendRequestAsync(Address, BlockParameter.CreatePending()), cancellationToken);
        await Task.WhenAll(estimating, pricing, counting);
        var estimate = await estimating;

        if (estimate > Options.MaxGasPerTransaction)
        {
            throw new ChainTransactionException($"{what} needs an estimated {estimate} gas, over MetaNode:Chain:MaxGasPerTransaction ({Options.MaxGasPerTransaction}); nothing was sent.");
        }

        var gasLimit = (long)BigInteger.Min(estimate * Options.GasEstimatePercent / 100, Options.MaxGasPerTransaction);
        var (maxFee, priority) = await pricing;
        var nodeNonce = (long)(await counting).Value;
        // Nothing else in flight: the node is right (a version it forgot must not leave a gap). Otherwise stay past ours.
        var nonce = State.Pending.Count == 0 ? nodeNonce : Math.Max(nodeNonce, State.NextNonce);
        var pending = new PendingTransaction
        {
            Operation = operation,
            Nonce = nonce,
            To = to,
            Data = data,
            GasLimit = gasLimit,
            MaxFeePerGas = maxFee.ToString(CultureInfo.InvariantCulture),
            MaxPriorityFeePerGas = priority.ToString(CultureInfo.InvariantCulture),
            RawTransaction = string.Empty,
        };
        Sign(pending, key, chainId);
        var now = time.GetUtcNow();
        pending.FirstSentAt = now;
        pending.LastSentAt = now;
        State.Pending[operation] = pending;
        State.NextNonce = nonce + 1;
        State.Submitted++;

        // Persisted before it is sent: after a crash the next call finds it and resumes instead of sending another.
        await state.WriteStateAsync(cancellationToken);
        connector.TransactionsSubmitted.Add(1);
        LogSubmitting(logger, what, Address, nonce, gasLimit, pending.Hashes[^1]);
        return pending;
    }

    private async Task<BigInteger> EstimateGasAsync(string? to, string data, string what, CancellationToken cancellationToken)
    {
        try
        {
            return (await connector.CallAsync("eth_estimateGas", w => w.Eth.Transactions.EstimateGas.SendRequestAsync(new CallInput { From = Address, To = to, Data = data, Value = new HexBigInteger(0) }), cancellationToken)).Value;
        }
        catch (Exception exception) when (RegistryClient.IsRevert(exception))
        {
            throw new ChainRevertException(what, RegistryClient.DescribeRevert(exception));
        }
    }

    private async Task<(BigInteger MaxFee, BigInteger Priority)> FeesAsync(CancellationToken cancellationToken)
    {
        var cap = ToWei(Options.MaxFeePerGasGwei);
        var priorityCap = ToWei(Options.MaxPriorityFeePerGasGwei);
        var block = await connector.CallAsync("eth_getBlockByNumber", w => w.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest()), cancellationToken);
        connector.ObserveBlock((long)block.Number.Value);
        var baseFee = block.BaseFeePerGas?.Value ?? BigInteger.Zero;
        BigInteger priority;
        try
        {
            priority = (await connector.CallAsync("eth_maxPriorityFeePerGas", w => new Nethereum.RPC.Eth.EthMaxPriorityFeePerGas(w.Client).SendRequestAsync(), cancellationToken)).Value;
        }
        catch (RpcResponseException)
        {
            priority = Gwei;
        }

        priority = BigInteger.Min(priority, priorityCap);
        var maxFee = BigInteger.Min((baseFee * 2) + priority, cap);
        if (maxFee < baseFee)
        {
            throw new ChainTransactionException($"the base fee ({baseFee} wei) is above MetaNode:Chain:MaxFeePerGasGwei ({Options.MaxFeePerGasGwei} gwei); nothing was sent.");
        }

        return (maxFee, BigInteger.Min(priority, maxFee));
    }

    private static void Sign(PendingTransaction pending, EthECKey key, long chainId)
    {
        var transaction = new Transaction1559(
            chainId,
            pending.Nonce,
            BigInteger.Parse(pending.MaxPriorityFeePerGas, CultureInfo.InvariantCulture),
            BigInteger.Parse(pending.MaxFeePerGas, CultureInfo.InvariantCulture),
            pending.GasLimit,
            pending.To,
            BigInteger.Zero,
            pending.Data,
            []);
        var raw = TransactionSigning.SignTransaction(transaction, EthereumSignatures.PrivateKeyBytes(key.GetPrivateKeyAsBytes())).ToHex(prefix: true);
        pending.RawTransaction = raw;
        pending.Hashes.Add(HexValues.ToHex(RegistryTypedData.Keccak(raw.HexToByteArray())));
    }

    /// <summary>Sends the latest signed version; "already known" counts as sent.</summary>
    private async Task<bool> SendAsync(PendingTransaction pending, CancellationToken cancellationToken)
    {
        try
        {
            await connector.CallAsync("eth_sendRawTransaction", w => w.Eth.Transactions.SendRawTransaction.SendRequestAsync(pending.RawTransaction), cancellationToken);
            return true;
        }
        catch (RpcResponseException exception) when (Contains(exception, "already known") || Contains(exception, "already imported"))
        {
            return true;
        }
        catch (RpcResponseException exception) when (Contains(exception, "nonce too low") || Contains(exception, "nonce is too low"))
        {
            // One of our versions may have been mined; the receipt poll decides.
            LogNonceTooLow(logger, Address, pending.Nonce);
            return false;
        }
    }

    /// <summary>The receipt after the required confirmations; null when the nonce was consumed by a transaction that is not ours.</summary>
    private async Task<TransactionResult?> WaitAsync(PendingTransaction pending, EthECKey key, long chainId, Stopwatch watch, CancellationToken cancellationToken)
    {
        for (var poll = 0; ; poll++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (watch.Elapsed > Options.SubmissionTimeout)
            {
                throw new ChainTransactionException($"{pending.Operation}: no confirmation within {Options.SubmissionTimeout} (nonce {pending.Nonce}); it stays recorded and a retry resumes it.", pending.Hashes[^1]);
            }

            TransactionReceipt? receipt = null;
            foreach (var hash in pending.Hashes)
            {
                receipt = await connector.CallAsync("eth_getTransactionReceipt", w => w.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash), cancellationToken);
                if (receipt is not null)
                {
                    break;
                }
            }

            if (receipt is not null)
            {
                var block = (long)receipt.BlockNumber.Value;
                connector.ObserveBlock(block);
                // One confirmation is the receipt itself; deeper ones wait for the head and check the receipt is still there.
                var head = Options.Confirmations <= 1 ? block : await connector.GetBlockNumberAsync(cancellationToken);
                if (head - block + 1 >= Options.Confirmations)
                {
                    // Still there at depth N (a reorg within the depth would have removed it): done.
                    var again = Options.Confirmations <= 1
                        ? receipt
                        : await connector.CallAsync("eth_getTransactionReceipt", w => w.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(receipt.TransactionHash), cancellationToken);
                    if (again is not null && again.BlockHash == receipt.BlockHash)
                    {
                        return new TransactionResult
                        {
                            TransactionHash = receipt.TransactionHash,
                            BlockNumber = block,
                            GasUsed = (long)receipt.GasUsed.Value,
                            Succeeded = receipt.Status?.Value == 1,
                            ContractAddress = string.IsNullOrEmpty(receipt.ContractAddress) ? null : receipt.ContractAddress.ToLowerInvariant(),
                            Latency = time.GetUtcNow() - pending.FirstSentAt,
                            Replacements = pending.Replacements,
                        };
                    }
                }

                await Task.Delay(ReceiptPolling.Delay(poll, Options.ReceiptPollInterval), time, cancellationToken);
                continue;
            }

            // No receipt. Does the node still know the transaction? A restarted node may not: send it again.
            var known = await connector.CallAsync("eth_getTransactionByHash", w => w.Eth.Transactions.GetTransactionByHash.SendRequestAsync(pending.Hashes[^1]), cancellationToken);
            var now = time.GetUtcNow();
            if (known is null)
            {
                if (await MinedNonceAsync(cancellationToken) > pending.Nonce)
                {
                    // Mined nonce passed ours and none of our hashes has a receipt: look once more, then give the nonce up. Both
                    // readings must agree: a node in the middle of a reorganization can answer from the old chain and the new one
                    // in turn, and a nonce that went back is ours again (the next poll sends the same bytes).
                    await Task.Delay(Options.ReceiptPollInterval, time, cancellationToken);
                    if (await AnyReceiptAsync(pending, cancellationToken) || await MinedNonceAsync(cancellationToken) <= pending.Nonce)
                    {
                        continue;
                    }

                    LogNonceTaken(logger, Address, pending.Nonce, pending.Operation);
                    return null;
                }

                LogRebroadcast(logger, Address, pending.Nonce, pending.Hashes[^1]);
                await SendAsync(pending, cancellationToken);
            }
            else if (now - pending.LastSentAt > Options.ReplaceAfter)
            {
                if (pending.Replacements >= Options.MaxReplacements)
                {
                    throw new ChainTransactionException($"{pending.Operation}: still pending after {pending.Replacements} fee raises (nonce {pending.Nonce}); it stays recorded and a retry resumes it.", pending.Hashes[^1]);
                }

                await ReplaceAsync(pending, key, chainId, cancellationToken);
            }

            await Task.Delay(ReceiptPolling.Delay(poll, Options.ReceiptPollInterval), time, cancellationToken);
        }
    }

    /// <summary>The account's nonce on the latest block: how many of its transactions are mined.</summary>
    private async Task<long> MinedNonceAsync(CancellationToken cancellationToken) =>
        (long)(await connector.CallAsync("eth_getTransactionCount", w => w.Eth.Transactions.GetTransactionCount.SendRequestAsync(Address, BlockParameter.CreateLatest()), cancellationToken)).Value;

    private async Task<bool> AnyReceiptAsync(PendingTransaction pending, CancellationToken cancellationToken)
    {
        foreach (var hash in pending.Hashes)
        {
            if (await connector.CallAsync("eth_getTransactionReceipt", w => w.Eth.Transactions.GetTransactionReceipt.SendRequestAsync(hash), cancellationToken) is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Same nonce, fees raised by <see cref="ChainOptions.ReplacementFeePercent"/> (nodes require at least +10 %), persisted, sent.</summary>
    private async Task ReplaceAsync(PendingTransaction pending, EthECKey key, long chainId, CancellationToken cancellationToken)
    {
        var (suggestedMax, suggestedPriority) = await FeesAsync(cancellationToken);
        var raise = Options.ReplacementFeePercent;
        var maxFee = BigInteger.Max(BigInteger.Parse(pending.MaxFeePerGas, CultureInfo.InvariantCulture) * raise / 100, suggestedMax);
        var priority = BigInteger.Max(BigInteger.Parse(pending.MaxPriorityFeePerGas, CultureInfo.InvariantCulture) * raise / 100, suggestedPriority);
        var cap = ToWei(Options.MaxFeePerGasGwei);
        if (maxFee > cap)
        {
            throw new ChainTransactionException($"{pending.Operation}: replacing the stuck transaction needs a max fee of {maxFee} wei, over MetaNode:Chain:MaxFeePerGasGwei; it stays recorded.", pending.Hashes[^1]);
        }

        pending.MaxFeePerGas = maxFee.ToString(CultureInfo.InvariantCulture);
        pending.MaxPriorityFeePerGas = BigInteger.Min(priority, maxFee).ToString(CultureInfo.InvariantCulture);
        pending.Replacements++;
        metrics.TransactionReplaced();
        pending.LastSentAt = time.GetUtcNow();
        Sign(pending, key, chainId);
        State.Submitted++;
        await state.WriteStateAsync(cancellationToken);
        connector.TransactionsSubmitted.Add(1);
        LogReplacing(logger, Address, pending.Nonce, pending.Replacements, pending.Hashes[^1]);
        await SendAsync(pending, cancellationToken);
    }

    /// <summary>The account's balance for the low-balance alert; a node that does not answer leaves the last figure.</summary>
    private async Task ObserveBalanceAsync()
    {
        try
        {
            var wei = (await connector.CallAsync("eth_getBalance", w => w.Eth.GetBalance.SendRequestAsync(Address), CancellationToken.None)).Value;
            metrics.AccountBalance(Address, (double)(decimal)(wei / Gwei) / 1e9);
        }
        catch (Exception exception)
        {
            LogBalanceUnknown(logger, Address, exception.Message);
        }
    }

    private static bool Contains(RpcResponseException exception, string text) =>
        exception.RpcError?.Message?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false;

    private static BigInteger ToWei(decimal gwei) => new(gwei * 1_000_000_000m);
}
