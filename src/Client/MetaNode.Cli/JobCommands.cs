// Longer than 400 lines: the declarations and handlers of the six job sub-commands, each short.
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using MetaNode.Client;
using MetaNode.Federation;
using Spectre.Console;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>job run|status|results|list|cancel|model</c>: federated jobs over a compute and a validator cluster.</summary>
internal static class JobCommands
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static Command Build(CliContext context)
    {
        var job = new Command("job", "Run federated jobs: compute vPods train, validator vPods agree, rounds are finalized on chain.");
        job.Subcommands.Add(Run(context));
        job.Subcommands.Add(Status(context));
        job.Subcommands.Add(Results(context));
        job.Subcommands.Add(List(context));
        job.Subcommands.Add(Cancel(context));
        job.Subcommands.Add(Model(context));
        return job;
    }

    /// <summary>What <c>job results</c> prints: the final accuracy and each round's result as finalized on chain.</summary>
    internal sealed record JobResults(string JobId, FederatedJobPhase Phase, double? FinalAccuracy, string? FinalModelHash, string? Reason, IReadOnlyList<RoundView> Rounds)
    {
        public static JobResults From(FederatedJobStatus status) => new(
            status.JobId,
            status.Phase,
            status.FinalAccuracy,
            status.FinalModelHash,
            status.Reason,
            status.Results.Select(r => new RoundView(
                r.Round,
                r.Accuracy,
                r.Participants.Count,
                r.ResultHash,
                r.ModelRef,
                r.ModelCid,
                r.RecordCid,
                r.TxHash,
                r.Validators,
                r.ReceiptsRoot,
                r.DisagreeingValidators,
                r.Rejected.Select(x => x.VPodId).ToList(),
                status.Timings.FirstOrDefault(t => t.Round == r.Round),
                r.StateHash)).ToList());
    }

    internal sealed record RoundView(
        int Round,
        double? Accuracy,
        int Participants,
        string ResultHash,
        string? ModelRef,
        string? ModelCid,
        string? RecordCid,
        string? TxHash,
        IReadOnlyList<string> Validators,
        string ReceiptsRoot,
        IReadOnlyList<string> DisagreeingValidators,
        IReadOnlyList<string> Rejected,
        RoundTimings? Timings,
        string? StateHash = null);

    private static Command Run(CliContext context)
    {
        Option<string?> Text(string name, string description, string? help = null) => new(name) { Description = description, HelpName = help };
        var algorithm = Text("--algorithm", "federated-average (default) or secure-aggregation (compute vPods send masked updates; validators unmask only their sum).", "federated-average|secure-aggregation");
        var threshold = Text("--security-threshold", "Secure aggregation: t, the compute vPods that must stay to unmask a round (default a majority; from a majority to the neighbourhood size).", "T");
        var encryption = new Option<bool>("--encryption") { Description = "Secure aggregation seals its shares end to end (always on; accepted for clarity). Refused with federated-average, which has no encrypted mode." };
        var compute = Text("--compute-cluster", "The cluster whose compute vPods train; several, comma-separated (a,b), train together.", "C[,C...]");
        var validators = Text("--validator-cluster", "The cluster whose validator vPods aggregate and sign.", "V");
        var dataset = Text("--dataset", "digits, synthetic, a local CSV file (read here and uploaded), silo:PATH (a file under the silo's MetaNode:Datasets:Root) or sha256:HEX (an earlier upload).", "PATH|digits|synthetic|silo:PATH|sha256:HEX");
        var maxUpload = new Option<long>("--max-upload-bytes")
        {
            Description = $"Largest local data set file this command uploads (default {DatasetFiles.DefaultMaxBytes}, at most {DatasetFiles.MaxConfigurableBytes}); the silo applies its own limit too.",
            HelpName = "BYTES",
            DefaultValueFactory = _ => DatasetFiles.DefaultMaxBytes,
        };
        var partition = Text("--partition", "iid or dirichlet:ALPHA (default iid).", "iid|dirichlet:ALPHA");
        var rounds = Text("--rounds", "Rounds (default 10).", "R");
        var epochs = Text("--local-epochs", "Local epochs per round (default 5).", "E");
        var batch = Text("--batch", "Mini-batch size (default 16).", "B");
        var lr = Text("--lr", "Learning rate (default 0.1).", "ETA");
        var min = Text("--min-participants", "Fewest updates a round closes with at its deadline (default 1).", "M");
        var deadline = Text("--round-deadline", "How long a round waits for updates: 500ms, 30s, 2m (default 30s).", "30s");
        var quorum = Text("--quorum", "Validators that must sign the same result (k, default 1).", "K");
        var seed = Text("--seed", "Seed of the split, partition and training (default 42).", "S");
        var robust = Text("--robust", "none, median or trimmed-mean:F.", "median|trimmed-mean:F");
        var testFraction = Text("--test-fraction", "Share held out for the validators (default 0.2).", "F");
        var serverOptimizer = Text("--server-optimizer", "The validators' server step on each round's averaged update: avg (the average is the next model), avgm (server momentum, default η=1.5 β=0.3) or adam (FedAdam, default η=0.1 β₁=0.9, β₂=0.99, τ=0.01). Default avgm.", "avg|avgm|adam");
        var serverLr = Text("--server-lr", "The server optimizer's learning rate η (avgm, adam).", "ETA");
        var serverMomentum = Text("--server-momentum", "The server optimizer's momentum β (avgm) or β₁ (adam), 0 ≤ β < 1.", "BETA");
        var proximalMu = Text("--proximal-mu", "FedProx: the weight μ of the proximal term (μ/2)‖w − w_global‖² in local training (default 0: none).", "MU");
        var storage = Text("--storage-cluster", "A storage cluster where every round's model and round record are stored and pinned by IPFS CID (served at /ipfs/{cid}).", "S");
        var jobId = Text("--job-id", "The job's id (default: a new one).", "ID");
        var detach = new Option<bool>("--detach") { Description = "Return once the job started instead of waiting for its rounds." };
        var run = new Command("run", "Start a federated job and show each round until it ends.")
        {
            algorithm, threshold, encryption, compute, validators, dataset, maxUpload, partition, rounds, epochs, batch, lr, min, deadline, quorum, seed, robust, testFraction, serverOptimizer, serverLr, serverMomentum, proximalMu, storage, jobId, detach,
        };
        run.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var spec = Parse(() => FederatedJobSpecParser.Parse(new FederatedJobArguments
            {
                Algorithm = parseResult.GetValue(algorithm),
                ComputeCluster = parseResult.GetValue(compute),
                ValidatorCluster = parseResult.GetValue(validators),
                Dataset = parseResult.GetValue(dataset),
                Partition = parseResult.GetValue(partition),
                Rounds = parseResult.GetValue(rounds),
                LocalEpochs = parseResult.GetValue(epochs),
                BatchSize = parseResult.GetValue(batch),
                LearningRate = parseResult.GetValue(lr),
                MinParticipants = parseResult.GetValue(min),
                RoundDeadline = parseResult.GetValue(deadline),
                Quorum = parseResult.GetValue(quorum),
                Seed = parseResult.GetValue(seed),
                Robust = parseResult.GetValue(robust),
                TestFraction = parseResult.GetValue(testFraction),
                SecurityThreshold = parseResult.GetValue(threshold),
                Encryption = parseResult.GetValue(encryption),
                StorageCluster = parseResult.GetValue(storage),
                ServerOptimizer = parseResult.GetValue(serverOptimizer),
                ServerLearningRate = parseResult.GetValue(serverLr),
                ServerMomentum = parseResult.GetValue(serverMomentum),
                ProximalMu = parseResult.GetValue(proximalMu),
            }));
            var id = parseResult.GetValue(jobId) is { Length: > 0 } given ? given : MetaNodeClient.NewJobId();

            // A local file is read here, bounded, before anything connects: a device or an over-size file is refused at once.
            var upload = DatasetArgument.Classify(spec.Dataset, out var datasetName) == DatasetArgumentKind.LocalFile
                ? ReadLocalDataset(datasetName, parseResult.GetValue(maxUpload))
                : null;
            spec = spec with { Dataset = datasetName };
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            if (upload is not null)
            {
                spec = spec with { Dataset = await client.UploadDatasetAsync(upload, ct).ConfigureAwait(false) };
            }

            var status = await client.StartJobAsync(spec, id, ct).ConfigureAwait(false);
            if (parseResult.GetValue(detach))
            {
                WriteStatus(context, output, status);
                return ExitCodes.Success;
            }

            if (output.Format == OutputFormat.Table)
            {
                await context.Stdout.WriteLineAsync($"Job {id} started: {spec.Rounds} rounds of {spec.Dataset} over '{spec.ComputeCluster}', validated by '{spec.ValidatorCluster}' (quorum {spec.Quorum}).").ConfigureAwait(false);
            }

            status = await FollowAsync(context, output, client, id, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(JobResults.From(status));
            }
            else
            {
                await context.Stdout.WriteLineAsync(status.Phase == FederatedJobPhase.Completed
                    ? string.Create(CultureInfo.InvariantCulture, $"Job {id} completed: final accuracy {status.FinalAccuracy:F4}, model {status.FinalModelHash}.")
                    : $"Job {id} {status.Phase.ToString().ToLowerInvariant()}: {status.Reason}").ConfigureAwait(false);
            }

            return status.Phase == FederatedJobPhase.Completed ? ExitCodes.Success : ExitCodes.OperationFailed;
        }));
        return run;
    }

    private static byte[] ReadLocalDataset(string path, long maxBytes)
    {
        if (maxBytes < 1 || maxBytes > DatasetFiles.MaxConfigurableBytes)
        {
            throw new CliUsageException($"--max-upload-bytes '{maxBytes}' is invalid: use 1 to {DatasetFiles.MaxConfigurableBytes}.");
        }

        try
        {
            return DatasetFiles.ReadFile(path, maxBytes);
        }
        catch (InvalidDatasetException ex)
        {
            throw new CliUsageException($"--dataset: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--dataset: cannot read '{path}': {ex.Message}");
        }
    }

    /// <summary>Polls the job until it ends; in table mode prints one line per finalized round (a live bar on a terminal).</summary>
    private static async Task<FederatedJobStatus> FollowAsync(CliContext context, CliOutput output, IMetaNodeClient client, string id, CancellationToken cancellationToken)
    {
        var shown = 0;
        var interactive = output.Format == OutputFormat.Table && ReferenceEquals(context.Stdout, Console.Out) && !Console.IsOutputRedirected;
        FederatedJobStatus status = await client.GetJobStatusAsync(id, cancellationToken).ConfigureAwait(false);

        async Task<FederatedJobStatus> PollAsync(Action<FederatedJobStatus>? progress)
        {
            while (true)
            {
                status = await client.GetJobStatusAsync(id, cancellationToken).ConfigureAwait(false);
                progress?.Invoke(status);
                if (output.Format == OutputFormat.Table)
                {
                    for (; shown < status.Results.Count; shown++)
                    {
                        var line = RoundLine(status.Results[shown], status.Rounds);
                        if (interactive)
                        {
                            AnsiConsole.MarkupLine(Markup.Escape(line));
                        }
                        else
                        {
                            await context.Stdout.WriteLineAsync(line).ConfigureAwait(false);
                        }
                    }
                }

                if (status.IsFinished)
                {
                    return status;
                }

                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        if (!interactive)
        {
            return await PollAsync(null).ConfigureAwait(false);
        }

        return await AnsiConsole.Progress().AutoClear(true).StartAsync(async progress =>
        {
            var task = progress.AddTask("preparing", maxValue: Math.Max(1, status.Rounds));
            return await PollAsync(s =>
            {
                task.Value = s.Results.Count;
                task.Description = Markup.Escape(s.IsFinished ? s.Phase.ToString() : $"round {s.Round}/{s.Rounds} {s.Phase.ToString().ToLowerInvariant()}: {s.UpdatesIn}/{s.ComputeVPods} updates in");
            }).ConfigureAwait(false);
        }).ConfigureAwait(false);
    }

    private static string RoundLine(RoundResult result, int rounds)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"round {result.Round}/{rounds}  participants {result.Participants.Count}  accuracy {result.Accuracy:F4}  result {result.ResultHash}  tx {result.TxHash}");
        return result.DisagreeingValidators.Count > 0 ? $"{line}  disagreeing {string.Join(',', result.DisagreeingValidators)}" : line;
    }

    private static Command Status(CliContext context)
    {
        var id = IdOption();
        var status = new Command("status", "Show a job's phase, round, updates in and deadline.") { id };
        status.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            WriteStatus(context, output, await client.GetJobStatusAsync(RequireId(parseResult, id), ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return status;
    }

    private static Command Results(CliContext context)
    {
        var id = IdOption();
        var results = new Command("results", "Show each finalized round: accuracy, participants, result hash, model reference, model CID, transaction, validators.") { id };
        results.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var view = JobResults.From(await client.GetJobStatusAsync(RequireId(parseResult, id), ct).ConfigureAwait(false));
            if (output.Format == OutputFormat.Json)
            {
                output.Json(view);
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("ROUND", "ACCURACY", "PARTICIPANTS", "RESULT HASH", "MODEL REF", "MODEL CID", "TX", "VALIDATORS", "DISAGREEING");
            foreach (var r in view.Rounds)
            {
                table.AddRow(
                    r.Round.ToString(CultureInfo.InvariantCulture),
                    r.Accuracy?.ToString("F4", CultureInfo.InvariantCulture) ?? "-",
                    r.Participants.ToString(CultureInfo.InvariantCulture),
                    r.ResultHash,
                    r.ModelRef ?? "-",
                    string.IsNullOrEmpty(r.ModelCid) ? "-" : r.ModelCid,
                    r.TxHash ?? "-",
                    string.Join(", ", r.Validators),
                    string.Join(", ", r.DisagreeingValidators));
            }

            output.Renderer.Write(table);
            await context.Stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Job {view.JobId}: {view.Phase}, final accuracy {view.FinalAccuracy:F4}.")).ConfigureAwait(false);
            return ExitCodes.Success;
        }));
        return results;
    }

    private static Command List(CliContext context)
    {
        var list = new Command("list", "List every job.");
        list.Aliases.Add("ls");
        list.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var jobs = await client.ListJobsAsync(ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(jobs);
                return ExitCodes.Success;
            }

            if (jobs.Count == 0)
            {
                await context.Stdout.WriteLineAsync("No jobs.").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("JOB", "PHASE", "ROUND", "DATASET", "ACCURACY", "CREATED");
            foreach (var j in jobs)
            {
                table.AddRow(j.JobId, j.Phase.ToString(), $"{j.Round}/{j.Rounds}", j.Dataset ?? "-", j.Accuracy?.ToString("F4", CultureInfo.InvariantCulture) ?? "-", CliOutput.Time(j.CreatedAt));
            }

            output.Renderer.Write(table);
            return ExitCodes.Success;
        }));
        return list;
    }

    private static Command Cancel(CliContext context)
    {
        var id = IdOption();
        var cancel = new Command("cancel", "Cancel an active job; rounds already finalized stay on chain.") { id };
        cancel.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            WriteStatus(context, output, await client.CancelJobAsync(RequireId(parseResult, id), ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return cancel;
    }

    /// <summary>What <c>job model</c> reports after writing a round's model.</summary>
    internal sealed record ModelExport(string JobId, int Round, string ModelRef, string ResultHash, long Bytes, string Path);

    private static Command Model(CliContext context)
    {
        var id = IdOption();
        var round = new Option<int?>("--round") { Description = "The round (default: the last finalized one).", HelpName = "N" };
        var outPath = new Option<string?>("--out") { Description = "The file to write the model's canonical bytes to.", HelpName = "PATH", Required = true };
        var model = new Command("model", "Write a finalized round's model (its canonical bytes, checked against the model reference on record) to a file.") { id, round, outPath };
        model.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var jobId = RequireId(parseResult, id);
            var path = parseResult.GetValue(outPath) is { Length: > 0 } p ? Path.GetFullPath(p) : throw new CliUsageException("--out is required: give the file to write the model to.");
            if (parseResult.GetValue(round) is <= 0)
            {
                throw new CliUsageException($"--round must be 1 or more; got {parseResult.GetValue(round)}.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var status = await client.GetJobStatusAsync(jobId, ct).ConfigureAwait(false);
            var wanted = parseResult.GetValue(round) ?? (status.Results.Count > 0 ? status.Results[^1].Round : 0);
            var result = status.Results.FirstOrDefault(r => r.Round == wanted)
                ?? throw new InvalidOperationException(wanted == 0 ? $"job '{jobId}' has no finalized round yet." : $"round {wanted} of job '{jobId}' is not finalized.");
            var bytes = await client.GetJobModelAsync(jobId, wanted, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the model of round {wanted} of job '{jobId}' is not in the model store.");
            var actual = "0x" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (!string.Equals(actual, result.ModelRef, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"the stored model of round {wanted} hashes to {actual}, not to its model reference {result.ModelRef}; nothing was written.");
            }

            var temporary = path + ".tmp";
            await File.WriteAllBytesAsync(temporary, bytes, ct).ConfigureAwait(false);
            File.Move(temporary, path, overwrite: true);
            var export = new ModelExport(jobId, wanted, result.ModelRef!, result.ResultHash, bytes.Length, path);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(export);
            }
            else
            {
                await context.Stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Wrote round {wanted} of job {jobId}: {bytes.Length} bytes, model reference {result.ModelRef} (checked), to {path}.")).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return model;
    }

    private static void WriteStatus(CliContext context, CliOutput output, FederatedJobStatus status)
    {
        if (output.Format == OutputFormat.Json)
        {
            output.Json(status);
            return;
        }

        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string key, string? value) => grid.AddRow(new Markup($"[bold]{key}[/]"), new Text(value ?? "-"));
        Row("Job", status.JobId);
        Row("Phase", status.Phase.ToString());
        Row("Round", $"{status.Round}/{status.Rounds}");
        Row("Algorithm", status.Spec is not { } spec ? null
            : spec.Algorithm == FederatedAlgorithm.SecureAggregation
                ? string.Create(CultureInfo.InvariantCulture, $"secure-aggregation (t={status.SecurityThreshold} of n={status.ComputeVPods}; masked updates, sealed shares)")
                : $"federated-average ({spec.Robust})");
        Row("Server optimizer", status.Spec is not { } optimized ? null
            : (optimized.ServerOptimizer ?? ServerOptimizer.Average).ToString() + (optimized.ProximalMu > 0 ? string.Create(CultureInfo.InvariantCulture, $"; FedProx μ={optimized.ProximalMu}") : string.Empty));
        Row("Updates in", $"{status.UpdatesIn}/{status.ComputeVPods}");
        Row("Deadline", CliOutput.Time(status.RoundDeadline));
        Row("Validators", string.Join(", ", status.Validators));
        Row("Accuracy", status.FinalAccuracy?.ToString("F4", CultureInfo.InvariantCulture));
        Row("Reason", status.Reason);
        output.Renderer.Write(grid);
    }

    private static Option<string?> IdOption() => new("--id") { Description = "The job id ('job list' shows them).", HelpName = "ID", Required = true };

    private static string RequireId(ParseResult parseResult, Option<string?> id) =>
        parseResult.GetValue(id) is { Length: > 0 } value ? value : throw new CliUsageException("--id is required: give the job id ('metanode-cli job list').");

    private static FederatedJobSpec Parse(Func<FederatedJobSpec> parse)
    {
        try
        {
            return parse();
        }
        catch (InvalidJobSpecException exception)
        {
            throw new CliUsageException(exception.Message);
        }
    }
}
