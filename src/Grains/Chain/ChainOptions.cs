using MetaNode.Chain;
using Microsoft.Extensions.Options;

namespace MetaNode.Grains.Chain;

/// <summary>The chain connector's settings, section <c>MetaNode:Chain</c>.</summary>
public sealed class ChainOptions
{
    public const string SectionName = "MetaNode:Chain";

    /// <summary>JSON-RPC endpoint. Empty in the embedded profile: the silo starts its own dev chain (anvil).</summary>
    public string? RpcUrl { get; set; }

    /// <summary>Expected chain id; 0 reads it from the node. A mismatch stops the connector (never sign for the wrong chain).</summary>
    public long ChainId { get; set; }

    /// <summary>The ResultRegistry address (cluster profile); <c>chain deploy</c> can replace it.</summary>
    public string? RegistryAddress { get; set; }

    /// <summary>Blocks a transaction must have (its own included) before it counts; the watcher publishes only this deep.</summary>
    public int Confirmations { get; set; } = 1;

    /// <summary>Gas limit cap per transaction; an estimate above it fails without sending.</summary>
    public long MaxGasPerTransaction { get; set; } = 3_000_000;

    /// <summary>Estimated gas is multiplied by this percentage for the limit (capped by <see cref="MaxGasPerTransaction"/>).</summary>
    public int GasEstimatePercent { get; set; } = 125;

    /// <summary>Cap on maxFeePerGas, in gwei.</summary>
    public decimal MaxFeePerGasGwei { get; set; } = 500;

    /// <summary>Cap on the priority fee (tip), in gwei.</summary>
    public decimal MaxPriorityFeePerGasGwei { get; set; } = 2;

    /// <summary>The longest wait between two looks for a pending transaction's receipt (the first looks come sooner: <see cref="ReceiptPolling"/>).</summary>
    public TimeSpan ReceiptPollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A transaction with no receipt after this long is replaced (same nonce, fees raised by <see cref="ReplacementFeePercent"/>).</summary>
    public TimeSpan ReplaceAfter { get; set; } = TimeSpan.FromSeconds(30);

    public int ReplacementFeePercent { get; set; } = 125;

    /// <summary>Replacements of one transaction before giving up (it may still be mined; a retry recognises it).</summary>
    public int MaxReplacements { get; set; } = 3;

    /// <summary>Overall limit for one submission, from the first send to the required confirmations.</summary>
    public TimeSpan SubmissionTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>Retries of one RPC call on transport errors (connection refused, timeout, 5xx).</summary>
    public int RpcRetries { get; set; } = 6;

    public TimeSpan RpcRetryBackoffInitial { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RpcRetryBackoffCap { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan RpcTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Folder of encrypted Web3 keystore files for operator accounts (<c>UTC--...</c> JSON).</summary>
    public string? KeystoreDirectory { get; set; }

    /// <summary>Password of the operator's keystore files (vPod keys never reach the silo: each lives in its workload).</summary>
    [Redact]
    public string? KeystorePassword { get; set; }

    /// <summary>The operator account's private key from a secret (e.g. <c>MetaNode__Chain__AccountPrivateKey</c>); never logged.</summary>
    [Redact]
    public string? AccountPrivateKey { get; set; }

    /// <summary>Which keystore account is the operator when the folder holds several.</summary>
    public string? Account { get; set; }

    /// <summary>The silo's data directory, where the dev chain keeps its state and tools (set by the silo).</summary>
    public string? DataDirectory { get; set; }

    public ChainWatcherOptions Watcher { get; set; } = new();

    public DevChainOptions DevChain { get; set; } = new();
}

/// <summary><c>MetaNode:Chain:Watcher</c>.</summary>
public sealed class ChainWatcherOptions
{
    public bool Enabled { get; set; } = true;

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most blocks asked for in one eth_getLogs.</summary>
    public int MaxBlockRange { get; set; } = 2000;

    /// <summary>Checkpoints (block number and hash) remembered to find the fork point of a reorg deeper than the confirmation depth.</summary>
    public int ReorgHistory { get; set; } = 64;
}

/// <summary><c>MetaNode:Chain:DevChain</c>: the anvil the embedded profile starts when no RPC URL is configured.</summary>
public sealed class DevChainOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Path of an anvil binary to use instead of the npm package.</summary>
    public string? AnvilPath { get; set; }

    /// <summary>Where the pinned npm package is installed on first use (default: <c>tools/</c> under the data directory).</summary>
    public string? ToolsDirectory { get; set; }

    /// <summary>Seconds between anvil state dumps (the chain survives a silo restart, and a kill loses at most this much).</summary>
    public int StateIntervalSeconds { get; set; } = 2;

    /// <summary>Seconds between blocks; 0 mines a block per transaction (fastest for development).</summary>
    public int BlockTimeSeconds { get; set; }

    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

public sealed class ChainOptionsValidator : IValidateOptions<ChainOptions>
{
    public ValidateOptionsResult Validate(string? name, ChainOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.RpcUrl)
            && (!Uri.TryCreate(options.RpcUrl, UriKind.Absolute, out var rpc) || rpc.Scheme is not ("http" or "https")))
        {
            failures.Add($"MetaNode:Chain:RpcUrl must be an http(s) URL, got '{RpcUrls.Redact(options.RpcUrl)}'.");
        }

        if (options.ChainId < 0)
        {
            failures.Add($"MetaNode:Chain:ChainId must be 0 (read from the node) or positive, got '{options.ChainId}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.RegistryAddress) && !HexValues.IsAddress(options.RegistryAddress))
        {
            failures.Add($"MetaNode:Chain:RegistryAddress must be a 0x-prefixed 20-byte address, got '{options.RegistryAddress}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.RegistryAddress) && string.IsNullOrWhiteSpace(options.RpcUrl))
        {
            failures.Add("MetaNode:Chain:RegistryAddress needs MetaNode:Chain:RpcUrl.");
        }

        Range(failures, "Confirmations", options.Confirmations, 1, 1000);
        Range(failures, "MaxGasPerTransaction", options.MaxGasPerTransaction, 21_000, 30_000_000);
        Range(failures, "GasEstimatePercent", options.GasEstimatePercent, 100, 300);
        Range(failures, "ReplacementFeePercent", options.ReplacementFeePercent, 111, 300);
        Range(failures, "MaxReplacements", options.MaxReplacements, 0, 20);
        Range(failures, "RpcRetries", options.RpcRetries, 0, 100);
        if (options.MaxFeePerGasGwei <= 0)
        {
            failures.Add($"MetaNode:Chain:MaxFeePerGasGwei must be positive, got '{options.MaxFeePerGasGwei}'.");
        }

        if (options.MaxPriorityFeePerGasGwei < 0 || options.MaxPriorityFeePerGasGwei > options.MaxFeePerGasGwei)
        {
            failures.Add($"MetaNode:Chain:MaxPriorityFeePerGasGwei must be 0..MaxFeePerGasGwei, got '{options.MaxPriorityFeePerGasGwei}'.");
        }

        Positive(failures, "ReceiptPollInterval", options.ReceiptPollInterval);
        Positive(failures, "ReplaceAfter", options.ReplaceAfter);
        Positive(failures, "SubmissionTimeout", options.SubmissionTimeout);
        Positive(failures, "RpcRetryBackoffInitial", options.RpcRetryBackoffInitial);
        Positive(failures, "RpcTimeout", options.RpcTimeout);
        if (options.RpcRetryBackoffCap < options.RpcRetryBackoffInitial)
        {
            failures.Add($"MetaNode:Chain:RpcRetryBackoffCap must be at least RpcRetryBackoffInitial, got '{options.RpcRetryBackoffCap}'.");
        }

        if (!string.IsNullOrWhiteSpace(options.AccountPrivateKey) && !HexValues.IsHex(options.AccountPrivateKey, 32))
        {
            // The value is a secret: name the key, never the value.
            failures.Add("MetaNode:Chain:AccountPrivateKey must be a 32-byte hex private key (value not shown).");
        }

        if (!string.IsNullOrWhiteSpace(options.Account) && !HexValues.IsAddress(options.Account))
        {
            failures.Add($"MetaNode:Chain:Account must be a 0x-prefixed 20-byte address, got '{options.Account}'.");
        }

        Positive(failures, "Watcher:PollInterval", options.Watcher.PollInterval);
        Range(failures, "Watcher:MaxBlockRange", options.Watcher.MaxBlockRange, 1, 100_000);
        Range(failures, "Watcher:ReorgHistory", options.Watcher.ReorgHistory, 1, 10_000);
        Range(failures, "DevChain:StateIntervalSeconds", options.DevChain.StateIntervalSeconds, 1, 3600);
        Range(failures, "DevChain:BlockTimeSeconds", options.DevChain.BlockTimeSeconds, 0, 60);
        Positive(failures, "DevChain:StartTimeout", options.DevChain.StartTimeout);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Range(List<string> failures, string key, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            failures.Add($"MetaNode:Chain:{key} must be {min}-{max}, got '{value}'.");
        }
    }

    private static void Positive(List<string> failures, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"MetaNode:Chain:{key} must be positive, got '{value}'.");
        }
    }
}
