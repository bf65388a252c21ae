using System.Globalization;
using System.Text.Json;
using MetaNode.Chain;
using MetaNode.VPods;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace MetaNode.Cli;

/// <summary>Writes results to standard output: Spectre tables in <see cref="OutputFormat.Table"/>, JSON in <see cref="OutputFormat.Json"/>.</summary>
internal sealed class CliOutput
{
    private const int TransitionsShown = 10;
    private const int DefaultWidth = 160;

    private readonly TextWriter _writer;
    private readonly IAnsiConsole _console;

    public CliOutput(TextWriter writer, OutputFormat format)
    {
        _writer = writer;
        Format = format;
        var isConsole = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = isConsole ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = isConsole ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!isConsole)
        {
            _console.Profile.Width = DefaultWidth;
        }
    }

    public OutputFormat Format { get; }

    /// <summary>The console tables are written to, for command groups that render their own.</summary>
    public IAnsiConsole Renderer => _console;

    public void Json<T>(T value)
    {
        _writer.WriteLine(JsonSerializer.Serialize(value, CliJson.Indented));
    }

    public void Status(VPodStatus status)
    {
        if (Format == OutputFormat.Json)
        {
            Json(status);
            return;
        }

        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        Row(grid, "ID", status.Id);
        Row(grid, "Name", status.Name);
        Row(grid, "Type", Lower(status.Type));
        Row(grid, "Deployment", Lower(status.DeploymentMethod));
        grid.AddRow(Key("Phase"), PhaseText(status.Phase));
        grid.AddRow(Key("Health"), HealthText(status.Health));
        Row(grid, "Restarts", status.RestartCount.ToString(CultureInfo.InvariantCulture));
        Row(grid, "Endpoint", status.Endpoint);
        Row(grid, "Handle", status.Handle?.ToString());
        Row(grid, HandleLabel(status.DeploymentMethod), status.Handle is { Id.Length: > 0 } handle ? handle.Id : null);
        Row(grid, "Created", Time(status.CreatedAt));
        Row(grid, "Started", Time(status.StartedAt));
        Row(grid, "Updated", Time(status.UpdatedAt));
        Row(grid, "Last exit", ExitText(status));
        Row(grid, "Next restart", Time(status.NextRestartAt));
        Row(grid, "Reason", status.Reason);
        Row(grid, "Address", status.Address);
        Row(grid, "Identity", IdentityText(status));
        if (status.Spec is { } spec)
        {
            Row(grid, "Resources", $"cpu {ResourceQuantity.FormatCpu(spec.CpuMillis)}, memory {ResourceQuantity.FormatMemory(spec.MemoryBytes)}"
                + (status.LimitsNotEnforced is { } why ? $" (not enforced: {why})" : string.Empty));
            Row(grid, "Image", spec.Image);
            Row(grid, "Command", spec.Command.Count == 0 ? null : string.Join(' ', spec.Command));
            Row(grid, "Ports", spec.Ports.Count == 0 ? null : string.Join(", ", spec.Ports));
            Row(grid, "Restart policy", PolicyText(spec.RestartPolicy));
            Row(grid, "Volumes", spec.Volumes.Count == 0 ? null : string.Join(", ", spec.Volumes.Select(v => $"{v.Source}:{v.Target}{(v.ReadOnly ? ":ro" : string.Empty)}")));
            Row(grid, "Storage", StorageText(spec.PersistentStorage));
            Row(grid, "Pull secrets", spec.ImagePullSecrets.Count == 0 ? null : string.Join(", ", spec.ImagePullSecrets));
            Row(grid, "Replicas", spec.Replicas == 1 && !spec.HighAvailability ? null : $"{spec.Replicas}{(spec.HighAvailability ? ", high availability" : string.Empty)}");
            Row(grid, "Network policy", NetworkPolicyText(spec.NetworkPolicy));
            Row(grid, "Cluster", spec.Cluster);
        }

        _console.Write(grid);

        if (status.Transitions.Count > 0)
        {
            var table = new Table().Border(TableBorder.Simple).Title("Recent transitions")
                .AddColumns("AT", "FROM", "TO", "TRIGGER", "REASON");
            foreach (var t in status.Transitions.TakeLast(TransitionsShown))
            {
                table.AddRow(Plain(Time(t.At)), Plain(t.From.ToString()), PhaseText(t.To), Plain(t.Trigger.ToString()), Plain(t.Reason));
            }

            _console.Write(table);
        }
    }

    /// <summary>The result of start, stop, restart or delete.</summary>
    public void ActionResult(string action, VPodStatus status)
    {
        if (Format == OutputFormat.Json)
        {
            Json(status);
            return;
        }

        _console.Write(new Markup(
            $"{Markup.Escape(action)} [bold]{Markup.Escape(status.Id)}[/] ({Markup.Escape(status.Name)}): phase "));
        _console.Write(PhaseText(status.Phase));
        _console.WriteLine();
    }

    public void List(IReadOnlyList<VPodSummary> summaries, DateTimeOffset now)
    {
        if (Format == OutputFormat.Json)
        {
            Json(summaries);
            return;
        }

        if (summaries.Count == 0)
        {
            _writer.WriteLine("No vPods.");
            return;
        }

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("ID", "NAME", "TYPE", "METHOD", "PHASE", "HEALTH", "RESTARTS", "AGE");
        foreach (var s in summaries.OrderBy(s => s.CreatedAt).ThenBy(s => s.Id, StringComparer.Ordinal))
        {
            table.AddRow(
                Plain(s.Id),
                Plain(s.Name),
                Plain(Lower(s.Type)),
                Plain(Lower(s.DeploymentMethod)),
                PhaseText(s.Phase),
                HealthText(s.Health),
                Plain(s.RestartCount.ToString(CultureInfo.InvariantCulture)),
                Plain(Age(now - s.CreatedAt)));
        }

        _console.Write(table);
    }

    public void Metrics(VPodMetrics metrics)
    {
        if (Format == OutputFormat.Json)
        {
            Json(metrics);
            return;
        }

        var r = metrics.Resources;
        var b = metrics.Blockchain;
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        Row(grid, "ID", metrics.Id);
        grid.AddRow(Key("Phase"), PhaseText(metrics.Phase));
        Row(grid, "CPU", r.CpuPercent.ToString("0.0", CultureInfo.InvariantCulture) + " %");
        Row(grid, "Memory", r.MemoryLimitBytes > 0
            ? $"{Bytes(r.MemoryBytes)} / {Bytes(r.MemoryLimitBytes)} ({100.0 * r.MemoryBytes / r.MemoryLimitBytes:0.0} %)"
            : Bytes(r.MemoryBytes));
        Row(grid, "Network", $"rx {Bytes(metrics.Network.RxBytes)}, tx {Bytes(metrics.Network.TxBytes)}");
        Row(grid, "Chain account", b.Address);
        Row(grid, "Transactions", $"{b.TransactionsSubmitted} submitted, {b.TransactionsConfirmed} confirmed");
        Row(grid, "Gas used", b.GasUsed.ToString(CultureInfo.InvariantCulture));
        Row(grid, "Last block", b.LastBlockSeen?.ToString(CultureInfo.InvariantCulture));
        Row(grid, "RPC latency", b.RpcLatencyMs is { } ms ? ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms" : null);
        Row(grid, "Collected", Time(metrics.CollectedAt));
        _console.Write(grid);
    }

    public void ChainStatus(ChainStatus status)
    {
        if (Format == OutputFormat.Json)
        {
            Json(status);
            return;
        }

        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        Row(grid, "Chain", status.Enabled ? (status.DevChain ? "enabled (dev chain)" : "enabled") : "off");
        Row(grid, "RPC URL", status.RpcUrl);
        Row(grid, "Chain id", status.Enabled ? status.ChainId.ToString(CultureInfo.InvariantCulture) : null);
        Row(grid, "Registry", status.Registry);
        Row(grid, "Threshold", status.Registry is null ? null : $"{status.Threshold} of {status.Validators.Count} (set {status.SetId})");
        Row(grid, "Validators", status.Validators.Count == 0 ? null : string.Join('\n', status.Validators));
        Row(grid, "Last block", status.Enabled ? status.LastBlock.ToString(CultureInfo.InvariantCulture) : null);
        Row(grid, "Operator", status.Operator);
        Row(grid, "Confirmations", status.Enabled ? status.Confirmations.ToString(CultureInfo.InvariantCulture) : null);
        Row(grid, "Note", status.Reason);
        _console.Write(grid);
    }

    public void Validators(ValidatorSet set)
    {
        if (Format == OutputFormat.Json)
        {
            Json(set);
            return;
        }

        _writer.WriteLine($"Registry {set.Registry}: threshold {set.Threshold} of {set.Validators.Count}, set {set.SetId}");
        var table = new Table().Border(TableBorder.Rounded).AddColumns("ADDRESS", "VPOD", "NAME");
        foreach (var v in set.Validators)
        {
            table.AddRow(Plain(v.Address), Plain(v.VPodId ?? "-"), Plain(v.VPodName ?? "-"));
        }

        _console.Write(table);
    }

    public void Round(RoundRecord record)
    {
        if (Format == OutputFormat.Json)
        {
            Json(record);
            return;
        }

        if (!record.Finalized)
        {
            _writer.WriteLine($"Round {record.JobId}/{record.Round} is not finalized on registry {record.Registry}.");
            return;
        }

        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        Row(grid, "Job", record.JobId);
        Row(grid, "Round", record.Round.ToString(CultureInfo.InvariantCulture));
        Row(grid, "Result hash", record.ResultHash);
        Row(grid, "Receipts root", record.ReceiptsRoot);
        Row(grid, "Model ref", record.ModelRef);
        Row(grid, "Model CID", string.IsNullOrEmpty(record.ModelCid) ? "none" : record.ModelCid);
        Row(grid, "Block", record.BlockNumber is { } block ? $"{block.ToString(CultureInfo.InvariantCulture)} ({record.BlockHash})" : null);
        Row(grid, "Transaction", record.TransactionHash);
        Row(grid, "Commitment", record.Commitment);
        Row(grid, "Verified", record.Verified ? "yes: the event matches the registry's commitment" : "NO: no event matching the commitment was found");
        Row(grid, "Registry", record.Registry);
        _console.Write(grid);
    }

    public void Finalization(FinalizationResult result)
    {
        if (Format == OutputFormat.Json)
        {
            Json(result);
            return;
        }

        var record = result.Record;
        if (result.Outcome == FinalizationOutcome.AlreadyFinalized)
        {
            _writer.WriteLine($"Round {record.JobId}/{record.Round} was already finalized in block {record.BlockNumber} (transaction {record.TransactionHash}); nothing new was sent."
                + (record.Matches == false ? " The result on chain differs from the one given." : string.Empty));
            return;
        }

        _writer.WriteLine($"Round {record.JobId}/{record.Round} finalized in block {record.BlockNumber} by {result.TransactionHash} ({result.GasUsed} gas, {result.Signers.Count} signatures, submitted by {result.Submitter}).");
    }

    /// <summary>One log line: <c>timestamp stream text</c>, or one compact JSON object.</summary>
    public void LogLine(LogLine line)
    {
        if (Format == OutputFormat.Json)
        {
            _writer.WriteLine(JsonSerializer.Serialize(line, CliJson.Compact));
        }
        else
        {
            _writer.WriteLine($"{Time(line.Timestamp)} {line.Stream.ToString().ToLowerInvariant()} {line.Text}");
        }
    }

    public void Flush() => _writer.Flush();

    internal static string Time(DateTimeOffset? at) =>
        at is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) : "-";

    internal static string Age(TimeSpan age)
    {
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero;
        }

        return age.TotalSeconds < 60 ? $"{(int)age.TotalSeconds}s"
            : age.TotalMinutes < 60 ? $"{(int)age.TotalMinutes}m"
            : age.TotalHours < 48 ? $"{(int)age.TotalHours}h"
            : $"{(int)age.TotalDays}d";
    }

    internal static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? bytes.ToString(CultureInfo.InvariantCulture) + " B"
            : value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private static string Lower<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();

    /// <summary>What the runtime handle's id is for this deployment method.</summary>
    private static string HandleLabel(DeploymentMethod method) => method switch
    {
        DeploymentMethod.Docker => "Container",
        DeploymentMethod.Kubernetes => "Object",
        _ => "Process",
    };

    /// <summary>The last exit: its code, and whether it was an out-of-memory kill.</summary>
    /// <summary>Whether the workload proved its key: proven, not yet (and why), or another address than the admitted one.</summary>
    internal static string? IdentityText(VPodStatus status) => status.Identity switch
    {
        VPodIdentityState.None => null,
        VPodIdentityState.Proven => $"proven by the workload{(status.ProvedAt is { } at ? " at " + Time(at) : string.Empty)}",
        VPodIdentityState.Changed => $"CHANGED: the workload proved {status.ProvedAddress}, not the admitted address; kept out of jobs and validator sets until 'vpod admit --id {status.Id} --address {status.ProvedAddress}'",
        _ => "not proven" + (status.IdentityError is { } error ? $": {error}" : " yet"),
    };

    internal static string? ExitText(VPodStatus status) => (status.LastExitCode, status.OomKilled) switch
    {
        (null, false) => null,
        (null, true) => "killed: out of memory",
        ({ } code, true) => $"{code.ToString(CultureInfo.InvariantCulture)} (killed: out of memory)",
        ({ } code, false) => code.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Persistent storage as <c>10Gi (fast-ssd) at /vpod/data</c>, or null when there is none.</summary>
    internal static string? StorageText(StorageRequest? storage) => storage is null
        ? null
        : $"{ResourceQuantity.FormatMemory(storage.SizeBytes)}{(storage.StorageClass is null ? string.Empty : $" ({storage.StorageClass})")} at {storage.MountPath}";

    /// <summary>An enabled network policy as its allow lists, or null when there is none.</summary>
    internal static string? NetworkPolicyText(NetworkPolicySpec? policy) => policy is { Enabled: true }
        ? $"ingress from [{string.Join(", ", policy.IngressFrom)}], egress to [{string.Join(", ", policy.EgressTo)}]"
        : null;

    private static string PolicyText(RestartPolicy policy) => policy switch
    {
        RestartPolicy.Never => "never",
        RestartPolicy.OnFailure => "on-failure",
        RestartPolicy.Always => "always",
        _ => policy.ToString(),
    };

    private static void Row(Grid grid, string key, string? value) =>
        grid.AddRow(Key(key), Plain(string.IsNullOrEmpty(value) ? "-" : value));

    private static Text Key(string key) => new(key, new Style(decoration: Decoration.Bold));

    private static Text Plain(string? value) => new(value ?? string.Empty);

    private static IRenderable PhaseText(VPodPhase phase) => new Text(phase.ToString(), new Style(phase switch
    {
        VPodPhase.Running => Color.Green,
        VPodPhase.Degraded or VPodPhase.Restarting or VPodPhase.Provisioning or VPodPhase.Starting or VPodPhase.Pending => Color.Yellow,
        VPodPhase.Failed => Color.Red,
        _ => Color.Default,
    }));

    private static IRenderable HealthText(VPodHealth health) => new Text(health.ToString(), new Style(health switch
    {
        VPodHealth.Healthy => Color.Green,
        VPodHealth.Degraded => Color.Yellow,
        VPodHealth.Unhealthy => Color.Red,
        _ => Color.Default,
    }));
}
