using System.CommandLine;
using MetaNode.Client;
using MetaNode.VPods;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>vpod create|list|status|logs|start|stop|restart|delete|metrics|admit</c>.</summary>
internal static class VPodCommands
{
    public static Command Build(CliContext context)
    {
        var vpod = new Command("vpod", "Deploy, manage and observe vPods.");
        vpod.Subcommands.Add(Create(context));
        vpod.Subcommands.Add(List(context));
        vpod.Subcommands.Add(Status(context));
        vpod.Subcommands.Add(Logs(context));
        vpod.Subcommands.Add(Manage(context, "start", VPodAction.Start, "Start a stopped vPod.", withStopOptions: false));
        vpod.Subcommands.Add(Manage(context, "stop", VPodAction.Stop, "Stop a vPod's workload (SIGTERM, then a kill after --timeout).", withStopOptions: true));
        vpod.Subcommands.Add(Manage(context, "restart", VPodAction.Restart, "Restart a vPod's workload (its stop as 'vpod stop': SIGTERM, then a kill after --timeout; --force kills at once).", withStopOptions: true));
        vpod.Subcommands.Add(Manage(context, "delete", VPodAction.Delete, "Stop a vPod and remove it with its data and logs.", withStopOptions: true));
        vpod.Subcommands.Add(Metrics(context));
        vpod.Subcommands.Add(Admit(context));
        return vpod;
    }

    private static Command Create(CliContext context)
    {
        var name = new Option<string>(VPodSpecBuilder.Flags.Name) { Description = "Unique name: lower-case letters, digits and '-'.", Required = true };
        var type = new Option<string>(VPodSpecBuilder.Flags.Type) { Description = "compute, validator, storage or orchestrator.", HelpName = "type", Required = true };
        var cpu = new Option<string>(VPodSpecBuilder.Flags.Cpu) { Description = "CPU: cores (0.5, 2) or millicores (500m).", Required = true };
        var memory = new Option<string>(VPodSpecBuilder.Flags.Memory) { Description = "Memory: 256Mi, 4Gi, 1G or bytes.", Required = true };
        var image = new Option<string?>(VPodSpecBuilder.Flags.Image) { Description = "Container image (docker, kubernetes) or program path (process)." };
        var command = new Option<string?>(VPodSpecBuilder.Flags.Command) { Description = "Program and arguments, quoted as one value: \"python3 worker.py --epochs 2\"." };
        var env = Repeatable(VPodSpecBuilder.Flags.Env, "KEY=VALUE", "Environment variable; repeatable.");
        var port = Repeatable(VPodSpecBuilder.Flags.Port, "port", "Port the workload listens on (the first speaks the workload protocol); repeatable.");
        var volume = Repeatable(VPodSpecBuilder.Flags.Volume, "SRC:DST[:ro]", "Volume mount; repeatable.");
        var label = Repeatable(VPodSpecBuilder.Flags.Label, "key=value", "Label; repeatable.");
        var restart = new Option<string>(VPodSpecBuilder.Flags.RestartPolicy)
        {
            Description = "never, on-failure or always.",
            HelpName = "policy",
            DefaultValueFactory = _ => "on-failure",
        };
        var method = new Option<string>(VPodSpecBuilder.Flags.DeploymentMethod)
        {
            Description = "process, docker or kubernetes.",
            HelpName = "method",
            DefaultValueFactory = _ => "process",
        };

        var pullSecret = Repeatable(VPodSpecBuilder.Flags.PullSecret, "secret", "Registry credentials to pull the image with (docker: a registry configured on the silo; kubernetes: a Secret); repeatable.");
        var replicas = new Option<string?>(VPodSpecBuilder.Flags.Replicas) { Description = "Workload replicas, 1-100 (kubernetes; other runtimes run one).", HelpName = "N" };
        var highAvailability = new Option<bool>(VPodSpecBuilder.Flags.HighAvailability) { Description = "Spread replicas (kubernetes: anti-affinity and a disruption budget)." };
        var cluster = new Option<string?>(VPodSpecBuilder.Flags.Cluster) { Description = "The vPod cluster this vPod belongs to.", HelpName = "name" };

        var workload = new WorkloadOptions(type, cpu, memory, image, command, env, port, restart, method, replicas, highAvailability);
        var create = new Command("create", "Create a vPod and start its workload.")
        {
            name, volume, label, pullSecret, cluster,
        };
        foreach (var option in workload.All)
        {
            create.Options.Add(option);
        }
        create.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var builder = workload.ApplyTo(new VPodSpecBuilder().WithName(parseResult.GetValue(name)), parseResult);
            foreach (var value in parseResult.GetValue(volume) ?? [])
            {
                builder.AddVolume(value);
            }

            foreach (var value in parseResult.GetValue(label) ?? [])
            {
                builder.AddLabel(value);
            }

            foreach (var value in parseResult.GetValue(pullSecret) ?? [])
            {
                builder.AddPullSecret(value);
            }

            if (parseResult.GetValue(cluster) is { } clusterValue)
            {
                builder.WithCluster(clusterValue);
            }

            var spec = builder.Build();
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var status = await client.DeployVPodAsync(spec, ct).ConfigureAwait(false);
            output.Status(status);
            return ExitCodes.Success;
        }));
        return create;
    }

    private static Command List(CliContext context)
    {
        var list = new Command("list", "List every vPod.");
        list.Aliases.Add("ls");
        list.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var summaries = await client.ListVPodsAsync(ct).ConfigureAwait(false);
            output.List(summaries, DateTimeOffset.UtcNow);
            return ExitCodes.Success;
        }));
        return list;
    }

    private static Command Status(CliContext context)
    {
        var id = IdOption();
        var status = new Command("status", "Show a vPod's phase, health, runtime handle and recent transitions.") { id };
        status.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var vpodId = GetId(parseResult, id);
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.Status(await client.CheckVPodStatusAsync(vpodId, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return status;
    }

    private static Command Admit(CliContext context)
    {
        var id = IdOption();
        var address = new Option<string>("--address") { Description = "The address the vPod's workload proved (see 'vpod status').", HelpName = "0xADDRESS", Required = true };
        var admit = new Command("admit", "Admit the new address a vPod's workload proved after its key changed, so it may join jobs and validator sets again.") { id, address };
        admit.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var vpodId = GetId(parseResult, id);
            var value = parseResult.GetValue(address)!.Trim();
            if (!System.Text.RegularExpressions.Regex.IsMatch(value, "^0x[0-9a-fA-F]{40}$"))
            {
                throw new CliUsageException($"--address '{value}' is not a 0x-prefixed 20-byte address.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.Status(await client.AdmitVPodAddressAsync(vpodId, value, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return admit;
    }

    private static Command Metrics(CliContext context)
    {
        var id = IdOption();
        var metrics = new Command("metrics", "Show a vPod's resource, network and chain usage.") { id };
        metrics.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var vpodId = GetId(parseResult, id);
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            output.Metrics(await client.GetVPodMetricsAsync(vpodId, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return metrics;
    }

    private static Command Logs(CliContext context)
    {
        var id = IdOption();
        var lines = new Option<int?>("--lines", "-n") { Description = $"Show only the last N lines (at most {LogQueries.MaxTail}, the default).", HelpName = "N" };
        var since = new Option<string?>("--since") { Description = "Only lines at or after: a duration back from now (30s, 1h, 1h30m, 2d) or a timestamp (2026-01-31T12:00:00Z).", HelpName = "when" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines until Ctrl-C." };
        var logs = new Command("logs", "Print a vPod's output: one line per log line.") { id, lines, since, follow };
        logs.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var vpodId = GetId(parseResult, id);
            var tail = parseResult.GetValue(lines);
            if (tail is < 0)
            {
                throw new CliUsageException($"--lines: invalid value '{tail}': use a number of lines, 0 or more.");
            }

            DateTimeOffset? from = null;
            if (parseResult.GetValue(since) is { } sinceText)
            {
                try
                {
                    from = ResourceQuantity.ParseSince(sinceText, DateTimeOffset.UtcNow);
                }
                catch (FormatException ex)
                {
                    throw new CliUsageException($"--since: {ex.Message}", ex);
                }
            }

            var query = new LogQuery(tail, from);
            if (LogQueries.Problem(query) is { } problem)
            {
                throw new CliUsageException("--lines: " + problem);
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            if (!parseResult.GetValue(follow))
            {
                foreach (var line in await client.GetVPodLogsAsync(vpodId, query, ct).ConfigureAwait(false))
                {
                    output.LogLine(line);
                }

                return ExitCodes.Success;
            }

            try
            {
                await foreach (var line in client.FollowVPodLogsAsync(vpodId, query, ct).ConfigureAwait(false))
                {
                    output.LogLine(line);
                    output.Flush();
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C is how a follow ends.
            }

            return ExitCodes.Success;
        }));
        return logs;
    }

    private static Command Manage(CliContext context, string verb, VPodAction action, string description, bool withStopOptions)
    {
        var id = IdOption();
        var command = new Command(verb, description) { id };
        Option<bool>? force = null;
        Option<int?>? timeout = null;
        if (withStopOptions)
        {
            force = new Option<bool>("--force") { Description = "Kill the workload at once instead of stopping it gracefully." };
            timeout = new Option<int?>("--timeout") { Description = "Seconds to wait for a graceful stop before killing (default 10).", HelpName = "seconds" };
            command.Options.Add(force);
            command.Options.Add(timeout);
        }

        command.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var vpodId = GetId(parseResult, id);
            StopOptions? stopOptions = null;
            if (force is not null && timeout is not null)
            {
                var seconds = parseResult.GetValue(timeout) ?? new StopOptions().TimeoutSeconds;
                if (seconds is < 0 or > 3600)
                {
                    throw new CliUsageException($"--timeout: invalid value '{seconds}': use 0 to 3600 seconds.");
                }

                stopOptions = new StopOptions(parseResult.GetValue(force), seconds);
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var status = await client.ManageVPodAsync(vpodId, action, stopOptions, ct).ConfigureAwait(false);
            output.ActionResult(verb, status);
            return ExitCodes.Success;
        }));
        return command;
    }

    private static Option<string> IdOption() => new("--id")
    {
        Description = "The vPod id (vpod-...).",
        HelpName = "vpod-id",
        Required = true,
    };

    private static string GetId(ParseResult parseResult, Option<string> option)
    {
        var id = parseResult.GetValue(option)?.Trim();
        return VPodIds.TryValidate(id, out var error) ? id! : throw new CliUsageException($"--id: {error}");
    }

    private static Option<string[]> Repeatable(string name, string helpName, string description) => new(name)
    {
        Description = description,
        HelpName = helpName,
        AllowMultipleArgumentsPerToken = false,
    };
}
