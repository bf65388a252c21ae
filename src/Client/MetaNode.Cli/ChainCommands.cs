using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MetaNode.Chain;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>chain status|deploy|validators|round|finalize|rotate</c>.</summary>
internal static class ChainCommands
{
    private static readonly string ZeroHash = "0x" + new string('0', 64);

    public static Command Build(CliContext context)
    {
        var chain = new Command("chain", "The blockchain connector: registry, validator set, finalized rounds.");
        chain.Subcommands.Add(Status(context));
        chain.Subcommands.Add(Deploy(context));
        chain.Subcommands.Add(Validators(context));
        chain.Subcommands.Add(Round(context));
        chain.Subcommands.Add(Finalize(context));
        chain.Subcommands.Add(Rotate(context));
        return chain;
    }

    private static Command Status(CliContext context)
    {
        var status = new Command("status", "Show the RPC endpoint, chain id, registry, threshold, validators and last block.");
        status.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var result = await client.GetChainStatusAsync(ct).ConfigureAwait(false);
            output.ChainStatus(result);
            return result.Enabled ? ExitCodes.Success : ExitCodes.OperationFailed;
        }));
        return status;
    }

    private static Command Deploy(CliContext context)
    {
        var threshold = new Option<int>("--threshold", "-k") { Description = "Signatures needed (k); default a majority of the validators.", HelpName = "k" };
        var validator = new Option<string[]>("--validator") { Description = "A validator vPod (id) whose workload proves its key; repeatable. Default: every validator vPod.", HelpName = "vpod-id", AllowMultipleArgumentsPerToken = false };
        var deploy = new Command("deploy", "Deploy a new ResultRegistry and make it the cluster's registry.") { threshold, validator };
        deploy.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var k = parseResult.GetValue(threshold);
            if (k < 0)
            {
                throw new CliUsageException($"--threshold must be 1 or more, got '{k}'.");
            }

            var command = new DeployRegistryCommand { Threshold = k, Validators = [.. (parseResult.GetValue(validator) ?? []).Select(v => VPodId(v, "--validator"))] };
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.ChainStatus(await client.DeployRegistryAsync(command, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return deploy;
    }

    private static Command Validators(CliContext context)
    {
        var validators = new Command("validators", "List the registry's current validator set and the vPods holding its keys.");
        validators.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.Validators(await client.GetValidatorsAsync(ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return validators;
    }

    private static Command Round(CliContext context)
    {
        var (job, round) = RoundOptions();
        var command = new Command("round", "Show a finalized round: result hash, receipts root, model ref, block, transaction.") { job, round };
        command.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var (jobId, number) = (Job(parseResult.GetValue(job)), RoundNumber(parseResult.GetValue(round)));
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var record = await client.GetRoundAsync(jobId, number, ct).ConfigureAwait(false);
            output.Round(record);
            return record.Finalized ? ExitCodes.Success : ExitCodes.OperationFailed;
        }));
        return command;
    }

    private static Command Finalize(CliContext context)
    {
        var (job, round) = RoundOptions();
        var resultHash = new Option<string>("--result-hash") { Description = "The aggregated result's hash: 0x + 64 hex digits, or any text (hashed with SHA-256).", HelpName = "hash", Required = true };
        var receiptsRoot = new Option<string?>("--receipts-root") { Description = "Merkle root of the round's receipts (0x + 64 hex, or text hashed with SHA-256); default zero.", HelpName = "hash" };
        var modelRef = new Option<string?>("--model-ref") { Description = "The model's reference (0x + 64 hex, or text such as a CID hashed with SHA-256); default zero.", HelpName = "ref" };
        var modelCid = new Option<string?>("--model-cid") { Description = "The model's IPFS CID (CIDv1, as 'job results' shows it) recorded with the round; default none. A raw CID must name the model ref's digest.", HelpName = "cid" };
        var signer = new Option<string[]>("--signer") { Description = "A validator vPod that signs; repeatable. Default: every validator vPod of the current set.", HelpName = "vpod-id", AllowMultipleArgumentsPerToken = false };
        var all = new Option<bool>("--all-signatures") { Description = "Send every collected signature, not only k." };
        var command = new Command("finalize", "Have validator vPods sign a round and submit it once (a round already on chain is reported, not sent again).")
        {
            job, round, resultHash, receiptsRoot, modelRef, modelCid, signer, all,
        };
        command.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var request = new FinalizeRoundCommand
            {
                Round = ModelCid(new RoundResult
                {
                    JobId = Job(parseResult.GetValue(job)),
                    Round = RoundNumber(parseResult.GetValue(round)),
                    ResultHash = Hash(parseResult.GetValue(resultHash), "--result-hash"),
                    ReceiptsRoot = Hash(parseResult.GetValue(receiptsRoot), "--receipts-root"),
                    ModelRef = Hash(parseResult.GetValue(modelRef), "--model-ref"),
                }, parseResult.GetValue(modelCid)),
                SignerVPodIds = parseResult.GetValue(signer) ?? [],
                ThresholdOnly = !parseResult.GetValue(all),
            };
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.Finalization(await client.FinalizeRoundAsync(request, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command Rotate(CliContext context)
    {
        var threshold = new Option<int>("--threshold", "-k") { Description = "The new set's k; default a majority.", HelpName = "k" };
        var validator = new Option<string[]>("--validator") { Description = "A validator vPod (id) of the new set, whose workload proves its key; repeatable. Default: every validator vPod.", HelpName = "vpod-id", AllowMultipleArgumentsPerToken = false };
        var rotate = new Command("rotate", "Replace the validator set, signed by k validator vPods of the current set.") { threshold, validator };
        rotate.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var ids = (parseResult.GetValue(validator) ?? []).Select(v => VPodId(v, "--validator")).ToArray();
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.Validators(await client.RotateValidatorsAsync(ids, parseResult.GetValue(threshold), ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return rotate;
    }

    private static string VPodId(string value, string option) =>
        MetaNode.Client.VPodIds.TryValidate(value, out var error) ? value : throw new CliUsageException($"{option}: {error}");

    private static (Option<string> Job, Option<long> Round) RoundOptions() =>
        (new Option<string>("--job", "-j") { Description = "The job id (at most 32 bytes of UTF-8).", HelpName = "job", Required = true },
         new Option<long>("--round", "-r") { Description = "The round number (0 or more).", HelpName = "N", Required = true });

    private static string Job(string? value)
    {
        if (string.IsNullOrWhiteSpace(value) || Encoding.UTF8.GetByteCount(value) > 32)
        {
            throw new CliUsageException($"--job must be 1-32 bytes of UTF-8, got '{value}'.");
        }

        return value;
    }

    private static long RoundNumber(long value) =>
        value >= 0 ? value : throw new CliUsageException($"--round must be 0 or more, got '{value.ToString(CultureInfo.InvariantCulture)}'.");

    /// <summary>0x + 64 hex digits as given (lower case); any other text is hashed with SHA-256; absent means zero.</summary>
    internal static string Hash(string? value, string flag)
    {
        if (string.IsNullOrEmpty(value))
        {
            return ZeroHash;
        }

        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return value.Length == 66 && value.AsSpan(2).ContainsAnyExcept("0123456789abcdefABCDEF") is false
                ? value.ToLowerInvariant()
                : throw new CliUsageException($"{flag} must be 0x + 64 hex digits (or text to hash), got '{value}'.");
        }

        return "0x" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));
    }

    /// <summary>The round with <paramref name="value"/> as its model CID in canonical text (none when absent); refused when it is not a CIDv1 the registry records.</summary>
    internal static RoundResult ModelCid(RoundResult round, string? value)
    {
        if (value is null)
        {
            return round;
        }

        if (!MetaNode.Storage.Cid.TryParse(value, out var cid, out var error) || cid is null)
        {
            throw new CliUsageException($"--model-cid must be a CIDv1 (base32 'b…', raw or dag-pb, sha2-256), got '{value}': {error}");
        }

        var named = round with { ModelCid = cid.ToString() };
        try
        {
            RegistryModelCid.ToBytes(named);
        }
        catch (InvalidChainRequestException exception)
        {
            throw new CliUsageException($"--model-cid: {exception.Message}");
        }

        return named;
    }

    private static string Address(string value, string flag) =>
        value.Length == 42 && value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && !value.AsSpan(2).ContainsAnyExcept("0123456789abcdefABCDEF")
            ? value.ToLowerInvariant()
            : throw new CliUsageException($"{flag} must be a 0x-prefixed 20-byte address, got '{value}'.");
}
