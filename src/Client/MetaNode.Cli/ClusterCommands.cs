using System.CommandLine;
using System.Globalization;
using MetaNode.Client;
using MetaNode.Clusters;
using MetaNode.VPods;
using Spectre.Console;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary><c>cluster deploy|list|status|scale|delete|reconcile</c>.</summary>
internal static class ClusterCommands
{
    public static Command Build(CliContext context)
    {
        var cluster = new Command("cluster", "Deploy, scale and observe vPod clusters and their elected orchestrator leader.");
        cluster.Subcommands.Add(Deploy(context));
        cluster.Subcommands.Add(List(context));
        cluster.Subcommands.Add(Status(context));
        cluster.Subcommands.Add(Scale(context));
        cluster.Subcommands.Add(Delete(context));
        cluster.Subcommands.Add(Reconcile(context));
        return cluster;
    }

    private static Command Deploy(CliContext context)
    {
        var name = NameOption();
        var count = new Option<int>("--count") { Description = "Number of member vPods.", Required = true };
        var type = new Option<string>(VPodSpecBuilder.Flags.Type) { Description = "Member type: compute, validator, storage or orchestrator.", Required = true };
        var cpu = new Option<string>(VPodSpecBuilder.Flags.Cpu) { Description = "CPU per member: cores (0.5) or millicores (500m).", DefaultValueFactory = _ => "500m" };
        var memory = new Option<string>(VPodSpecBuilder.Flags.Memory) { Description = "Memory per member: 256Mi, 1Gi.", DefaultValueFactory = _ => "256Mi" };
        var image = new Option<string?>(VPodSpecBuilder.Flags.Image) { Description = "Container image (docker, kubernetes) or program path (process)." };
        var command = new Option<string?>(VPodSpecBuilder.Flags.Command) { Description = "Program and arguments, quoted as one value." };
        var env = new Option<string[]>(VPodSpecBuilder.Flags.Env) { Description = "KEY=VALUE for every member; repeatable.", AllowMultipleArgumentsPerToken = false };
        var port = new Option<string[]>(VPodSpecBuilder.Flags.Port) { Description = "Port every member listens on, the first being the workload port; 0 assigns each member a free loopback port (process); repeatable.", AllowMultipleArgumentsPerToken = false };
        var restart = new Option<string>(VPodSpecBuilder.Flags.RestartPolicy) { Description = "never, on-failure or always.", DefaultValueFactory = _ => "on-failure" };
        var method = new Option<string>(VPodSpecBuilder.Flags.DeploymentMethod) { Description = "process, docker or kubernetes.", DefaultValueFactory = _ => "process" };
        var replicas = new Option<string?>(VPodSpecBuilder.Flags.Replicas) { Description = "Workload replicas per member, 1-100 (kubernetes; other runtimes run one).", HelpName = "N" };
        var ha = new Option<bool>(VPodSpecBuilder.Flags.HighAvailability) { Description = "Spread members across silos (kubernetes: each member's replicas too)." };
        var algorithm = new Option<string>("--algorithm") { Description = "federated-average or secure-aggregation.", DefaultValueFactory = _ => "federated-average" };
        var threshold = new Option<int?>("--security-threshold") { Description = "Secure aggregation: t of the n members needed to unmask (default a majority; jobs on this cluster use it).", HelpName = "t" };
        var encryption = new Option<bool>("--encryption") { Description = "Secure aggregation: its shares are always sealed end to end (accepted for clarity). Refused with federated-average, which has no encrypted mode." };
        var replication = new Option<int?>("--replication") { Description = $"Storage clusters: on how many members each block is kept (default {ClusterSpecValidation.DefaultReplication}, or the member count if smaller).", HelpName = "R" };
        var quotaCpu = new Option<string?>("--quota-cpu") { Description = "Cluster quota: total cpu of all members." };
        var quotaMemory = new Option<string?>("--quota-memory") { Description = "Cluster quota: total memory of all members." };
        var maxMembers = new Option<int?>("--max-members") { Description = "Cluster quota: most members." };
        var workload = new WorkloadOptions(type, cpu, memory, image, command, env, port, restart, method, replicas, ha);
        var deploy = new Command("deploy", "Deploy a cluster of vPods (deploy_vpod_cluster); deploying the same spec again changes nothing.")
        {
            name, count, algorithm, threshold, encryption, replication, quotaCpu, quotaMemory, maxMembers,
        };
        foreach (var option in workload.All)
        {
            deploy.Options.Add(option);
        }
        deploy.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var clusterName = GetName(parseResult, name);
            var member = workload.ApplyTo(new VPodSpecBuilder(clusterName), parseResult).Build();
            var spec = new ClusterSpec
            {
                Name = clusterName,
                Count = parseResult.GetValue(count),
                MemberType = member.Type,
                DeploymentMethod = member.DeploymentMethod,
                Image = member.Image,
                Command = member.Command,
                CpuMillis = member.CpuMillis,
                MemoryBytes = member.MemoryBytes,
                Env = member.Env,
                Ports = member.Ports,
                RestartPolicy = member.RestartPolicy,
                Replicas = member.Replicas,
                HighAvailability = member.HighAvailability,
                PersistentStorage = member.PersistentStorage,
                NetworkPolicy = member.NetworkPolicy,
                Algorithm = parseResult.GetValue(algorithm)?.Trim().ToLowerInvariant() switch
                {
                    "federated-average" => AggregationAlgorithm.FederatedAverage,
                    "secure-aggregation" => AggregationAlgorithm.SecureAggregation,
                    var other => throw new CliUsageException($"--algorithm: invalid value '{other}': use federated-average or secure-aggregation."),
                },
                SecurityThreshold = parseResult.GetValue(threshold),
                EncryptionEnabled = parseResult.GetValue(encryption),
                Replication = parseResult.GetValue(replication),
                Quota = Quota(parseResult.GetValue(quotaCpu), parseResult.GetValue(quotaMemory), parseResult.GetValue(maxMembers)),
            };
            var errors = ClusterSpecValidation.Validate(spec);
            if (errors.Count > 0)
            {
                throw new CliUsageException("Invalid cluster: " + string.Join(" ", errors));
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            Write(output, await client.DeployClusterAsync(spec, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return deploy;
    }

    private static Command List(CliContext context)
    {
        var list = new Command("list", "List every cluster.");
        list.Aliases.Add("ls");
        list.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var clusters = await client.ListClustersAsync(ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(clusters);
                return ExitCodes.Success;
            }

            if (clusters.Count == 0)
            {
                context.Stdout.WriteLine("No clusters.");
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("NAME", "TYPE", "METHOD", "DESIRED", "PHASE", "CREATED");
            foreach (var c in clusters)
            {
                table.AddRow(c.Name, Lower(c.MemberType), Lower(c.DeploymentMethod), c.Desired.ToString(CultureInfo.InvariantCulture), c.Phase.ToString(), CliOutput.Time(c.CreatedAt));
            }

            Console(context).Write(table);
            return ExitCodes.Success;
        }));
        return list;
    }

    private static Command Status(CliContext context)
    {
        var name = NameOption();
        var status = new Command("status", "Show a cluster's members, desired/running/failed counts, leader and term.") { name };
        status.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var clusterName = GetName(parseResult, name);
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            Write(output, await client.GetClusterStatusAsync(clusterName, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return status;
    }

    private static Command Scale(CliContext context)
    {
        var name = NameOption();
        var count = new Option<int>("--count") { Description = "The new number of members.", Required = true };
        var scale = new Command("scale", "Change the number of members: new ones are created, the newest are deleted.") { name, count };
        scale.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var clusterName = GetName(parseResult, name);
            var n = parseResult.GetValue(count);
            if (n is < 0 or > ClusterSpecValidation.MaxCount)
            {
                throw new CliUsageException($"--count: invalid value '{n}': use 0-{ClusterSpecValidation.MaxCount}.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            Write(output, await client.ScaleClusterAsync(clusterName, n, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return scale;
    }

    private static Command Delete(CliContext context)
    {
        var name = NameOption();
        var delete = new Command("delete", "Delete a cluster and its member vPods.") { name };
        delete.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var clusterName = GetName(parseResult, name);
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            Write(output, await client.DeleteClusterAsync(clusterName, ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return delete;
    }

    private static Command Reconcile(CliContext context)
    {
        var name = NameOption();
        var term = new Option<long>("--term") { Description = "The leader term the command carries; older than the cluster's current term is rejected.", Required = true };
        var leader = new Option<string>("--leader") { Description = "The vPod id issuing the command.", Required = true };
        var reconcile = new Command("reconcile", "Send a fenced reconciliation command as a leader would (operators and tests).") { name, term, leader };
        reconcile.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var clusterName = GetName(parseResult, name);
            var leaderId = parseResult.GetValue(leader)?.Trim();
            if (!VPodIds.TryValidate(leaderId, out var error))
            {
                throw new CliUsageException($"--leader: {error}");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            Write(output, await client.ReconcileClusterAsync(clusterName, new LeaderCommand(leaderId!, parseResult.GetValue(term)), ct).ConfigureAwait(false));
            return ExitCodes.Success;
        }));
        return reconcile;
    }

    private static void Write(CliOutput output, ClusterStatus status)
    {
        if (output.Format == OutputFormat.Json)
        {
            output.Json(status);
            return;
        }

        var console = Console(output);
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string key, string? value) => grid.AddRow(new Text(key, new Style(decoration: Decoration.Bold)), new Text(string.IsNullOrEmpty(value) ? "-" : value));
        Row("Name", status.Name);
        Row("Phase", status.Phase.ToString());
        Row("Members", $"{status.Running} running / {status.Desired} desired, {status.Failed} failed, {status.Pending} pending");
        Row("Leader", status.Leader is null ? null : $"{status.Leader} (term {status.Term}, lease until {CliOutput.Time(status.LeaseExpiresAt)})");
        Row("Term", status.Term.ToString(CultureInfo.InvariantCulture));
        if (status.Spec is { } spec)
        {
            Row("Type", Lower(spec.MemberType));
            Row("Deployment", Lower(spec.DeploymentMethod));
            Row("Resources", $"cpu {ResourceQuantity.FormatCpu(spec.CpuMillis)}, memory {ResourceQuantity.FormatMemory(spec.MemoryBytes)} per member");
            Row("Algorithm", spec.MemberType == VPodType.Storage ? null : spec.Algorithm == AggregationAlgorithm.SecureAggregation ? $"secure-aggregation (t={spec.SecurityThreshold} of n={spec.Count})" : "federated-average");
            Row("Options", $"high availability {(spec.HighAvailability ? "on" : "off")}, encryption {(spec.EncryptionEnabled ? "on" : "off")}, replicas {spec.Replicas}");
            Row("Replication", spec.MemberType == VPodType.Storage ? $"{ClusterSpecValidation.EffectiveReplication(spec, spec.Count)} copies of each block" : null);
            Row("Storage", CliOutput.StorageText(spec.PersistentStorage) is { } storage ? storage + " per member" : null);
            Row("Network policy", CliOutput.NetworkPolicyText(spec.NetworkPolicy));
        }

        console.Write(grid);
        if (status.Members.Count > 0)
        {
            var table = new Table().Border(TableBorder.Simple).AddColumns("ID", "NAME", "PHASE", "HEALTH", "RESTARTS", "SILO", "ROLE", "REASON");
            foreach (var m in status.Members)
            {
                table.AddRow(Markup.Escape(m.Id), Markup.Escape(m.Name), m.Phase.ToString(), m.Health.ToString(), m.RestartCount.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(m.Silo ?? "-"), m.IsLeader ? "leader" : "-", Markup.Escape(m.Reason ?? "-"));
            }

            console.Write(table);
        }

        if (status.LeaderChanges.Count > 0)
        {
            var table = new Table().Border(TableBorder.Simple).Title("Leader changes").AddColumns("AT", "TERM", "LEADER", "PREVIOUS", "REASON");
            foreach (var c in status.LeaderChanges.TakeLast(10))
            {
                table.AddRow(CliOutput.Time(c.At), c.Term.ToString(CultureInfo.InvariantCulture), Markup.Escape(c.Leader ?? "(none)"), Markup.Escape(c.PreviousLeader ?? "-"), Markup.Escape(c.Reason ?? "-"));
            }

            console.Write(table);
        }
    }

    private static IAnsiConsole Console(CliContext context) => Console(new CliOutput(context.Stdout, OutputFormat.Table));

    private static IAnsiConsole Console(CliOutput output) => output.Renderer;

    private static Option<string> NameOption() => new("--name") { Description = "The cluster name.", Required = true };

    private static string GetName(ParseResult parseResult, Option<string> option)
    {
        var value = parseResult.GetValue(option)?.Trim();
        return ClusterSpecValidation.IsValidName(value)
            ? value!
            : throw new CliUsageException($"--name: invalid value '{value}': use 1-{ClusterSpecValidation.MaxNameLength} lower-case letters, digits or '-', starting and ending with a letter or digit.");
    }

    private static long Memory(string flag, string value) =>
        ResourceQuantity.TryParseMemory(value, out var bytes, out var error) ? bytes : throw new CliUsageException($"{flag}: {error}");

    private static long Cpu(string flag, string value) =>
        ResourceQuantity.TryParseCpu(value, out var millis, out var error) ? millis : throw new CliUsageException($"{flag}: {error}");

    private static ClusterQuota? Quota(string? cpu, string? memory, int? maxMembers) =>
        cpu is null && memory is null && maxMembers is null
            ? null
            : new ClusterQuota
            {
                CpuMillis = cpu is null ? null : Cpu("--quota-cpu", cpu),
                MemoryBytes = memory is null ? null : Memory("--quota-memory", memory),
                MaxMembers = maxMembers,
            };

    private static string Lower<TEnum>(TEnum value)
        where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}
