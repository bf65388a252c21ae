using System.CommandLine;
using System.CommandLine.Invocation;
using MetaNode.Chain;
using MetaNode.Client;
using MetaNode.VPods;
using Microsoft.Extensions.Options;

namespace MetaNode.Cli;

/// <summary>
/// The <c>metanode-cli</c> application. <see cref="RunAsync"/> parses the arguments, connects through <c>connect</c>
/// (a real <see cref="MetaNodeClient"/> by default), runs the command and returns the exit code (<see cref="ExitCodes"/>).
/// Failures print one line on standard error.
/// </summary>
public static class CliApp
{
    public const string GatewayEnvironmentVariable = "METANODE_GATEWAY";
    public const string ConnectionStringEnvironmentVariable = "METANODE_CONNECTION_STRING";

    private static readonly char[] GatewaySeparators = [',', ';', ' '];

    public static async Task<int> RunAsync(
        string[] args,
        TextWriter stdout,
        TextWriter stderr,
        Func<MetaNodeClientOptions, CancellationToken, Task<IMetaNodeClient>>? connect = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);

        var context = new CliContext(stdout, stderr, connect ?? DefaultConnectAsync);
        var root = BuildRootCommand(context);
        var parseResult = root.Parse(args);

        if (parseResult.Action is ParseErrorAction)
        {
            var command = CommandPath(parseResult.CommandResult);
            var message = parseResult.Errors.Count > 0 ? OneLine(parseResult.Errors[0].Message) : "invalid command line.";
            if (!message.EndsWith('.'))
            {
                message += ".";
            }

            await stderr.WriteLineAsync($"error: {message} See '{command} --help'.").ConfigureAwait(false);
            await stderr.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return ExitCodes.UsageError;
        }

        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = null,
        };
        var exitCode = await parseResult.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        await stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        await stderr.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        return exitCode;
    }

    /// <summary>Builds the command tree (exposed for help and documentation generation).</summary>
    public static RootCommand BuildRootCommand() =>
        BuildRootCommand(new CliContext(TextWriter.Null, TextWriter.Null, DefaultConnectAsync));

    private static RootCommand BuildRootCommand(CliContext context)
    {
        var root = new RootCommand("metanode-cli: deploy, manage and observe MetaNode vPods.");
        root.Options.Add(context.Gateway);
        root.Options.Add(context.ConnectionString);
        root.Options.Add(context.Identity);
        root.Options.Add(context.Output);
        root.Subcommands.Add(VPodCommands.Build(context));
        root.Subcommands.Add(ChainCommands.Build(context));
        root.Subcommands.Add(ClusterCommands.Build(context));
        root.Subcommands.Add(JobCommands.Build(context));
        root.Subcommands.Add(StorageCommands.Build(context));
        root.Subcommands.Add(ProofCommands.Build(context));
        root.Subcommands.Add(AccessCommands.BuildAccess(context));
        root.Subcommands.Add(AccessCommands.BuildAudit(context));
        root.Subcommands.Add(BackupCommands.Build(context));
        return root;
    }

    private static async Task<IMetaNodeClient> DefaultConnectAsync(MetaNodeClientOptions options, CancellationToken cancellationToken) =>
        await MetaNodeClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);

    internal static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        var names = new List<string>();
        for (var current = result; current is not null; current = current.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(current.Command is RootCommand ? "metanode-cli" : current.Command.Name);
        }

        names.Reverse();
        return names.Count == 0 ? "metanode-cli" : string.Join(' ', names);
    }

    /// <summary>What every command shares: the writers, the connection factory and the global options.</summary>
    internal sealed class CliContext(
        TextWriter stdout,
        TextWriter stderr,
        Func<MetaNodeClientOptions, CancellationToken, Task<IMetaNodeClient>> connect)
    {
        public TextWriter Stdout { get; } = stdout;

        public TextWriter Stderr { get; } = stderr;

        public Option<string[]> Gateway { get; } = new("--gateway", "-g")
        {
            Description = $"A silo gateway as host:port; repeat for several. Default {MetaNodeClientOptions.DefaultGateway}, or ${GatewayEnvironmentVariable}.",
            HelpName = "host:port",
            Recursive = true,
            AllowMultipleArgumentsPerToken = false,
        };

        public Option<string?> ConnectionString { get; } = new("--connection-string")
        {
            Description = $"PostgreSQL connection string of the cluster database; gateways are read from it. Or ${ConnectionStringEnvironmentVariable}.",
            Recursive = true,
        };

        public Option<string?> Identity { get; } = new("--identity")
        {
            Description = $"The identity directory to connect and call with. Default ${MetaNode.Security.IdentityDirectory.EnvironmentVariable}, else ~/.metanode/identities/<host>_<port> of the first gateway.",
            HelpName = "dir",
            Recursive = true,
        };

        public Option<string> Output { get; } = CreateOutputOption();

        public OutputFormat GetFormat(ParseResult parseResult) =>
            string.Equals(parseResult.GetValue(Output), "json", StringComparison.OrdinalIgnoreCase) ? OutputFormat.Json : OutputFormat.Table;

        /// <summary>
        /// Runs a command body and turns failures into an exit code and one line on standard error.
        /// A body checks its flags first and connects (<see cref="ConnectAsync"/>) only when they are valid.
        /// </summary>
        public async Task<int> ExecuteAsync(ParseResult parseResult, CancellationToken cancellationToken, Func<CliOutput, CancellationToken, Task<int>> body)
        {
            var output = new CliOutput(Stdout, GetFormat(parseResult));
            try
            {
                var code = await body(output, cancellationToken).ConfigureAwait(false);
                output.Flush();
                return code;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                output.Flush();
                return await FailAsync(ExitCodes.Cancelled, "cancelled.").ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                output.Flush();
                var (code, message) = Describe(ex);
                return await FailAsync(code, message).ConfigureAwait(false);
            }
        }

        public async Task<IMetaNodeClient> ConnectAsync(ParseResult parseResult, CancellationToken cancellationToken)
        {
            var options = BuildClientOptions(parseResult);
            return await connect(options, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Client options from the global flags, then the environment, then the defaults. Throws <see cref="CliUsageException"/> naming the flag.</summary>
        public MetaNodeClientOptions BuildClientOptions(ParseResult parseResult)
        {
            var options = BuildConnectionOptions(parseResult);
            if (parseResult.GetValue(Identity) is { Length: > 0 } identity)
            {
                if (!MetaNode.Security.IdentityDirectory.Exists(identity))
                {
                    throw new CliUsageException($"--identity '{identity}' is not an identity directory (it needs identity.crt, identity.key, ca.crt and credential).");
                }

                options.Identity = identity;
            }

            return options;
        }

        private MetaNodeClientOptions BuildConnectionOptions(ParseResult parseResult)
        {
            var gatewayResult = parseResult.GetResult(Gateway);
            var gatewayFlags = gatewayResult is { Implicit: false } ? parseResult.GetValue(Gateway) ?? [] : [];
            var connectionString = parseResult.GetValue(ConnectionString);
            var connectionSource = "--connection-string";
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                connectionString = Environment.GetEnvironmentVariable(ConnectionStringEnvironmentVariable);
                connectionSource = ConnectionStringEnvironmentVariable;
            }

            if (gatewayFlags.Length > 0 && parseResult.GetResult(ConnectionString) is { Implicit: false })
            {
                throw new CliUsageException("--gateway and --connection-string cannot be used together: give the gateways, or the database to find them in.");
            }

            var options = new MetaNodeClientOptions();
            if (gatewayFlags.Length == 0 && !string.IsNullOrWhiteSpace(connectionString))
            {
                options.ConnectionString = connectionString;
                var check = new MetaNodeClientOptionsValidator().Validate(null, options);
                if (check.Failed)
                {
                    throw new CliUsageException($"{connectionSource}: {OneLine(check.FailureMessage)}");
                }

                return options;
            }

            var source = "--gateway";
            IReadOnlyList<string> gateways = gatewayFlags;
            if (gateways.Count == 0)
            {
                var fromEnvironment = Environment.GetEnvironmentVariable(GatewayEnvironmentVariable);
                if (!string.IsNullOrWhiteSpace(fromEnvironment))
                {
                    gateways = fromEnvironment.Split(GatewaySeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    source = GatewayEnvironmentVariable;
                }
            }

            if (gateways.Count > 0)
            {
                foreach (var gateway in gateways)
                {
                    if (!GatewayAddress.TryParse(gateway, out _, out var error))
                    {
                        throw new CliUsageException($"{source}: {error}");
                    }
                }

                options.Gateways = [.. gateways];
            }

            return options;
        }

        private async Task<int> FailAsync(int code, string message)
        {
            await Stderr.WriteLineAsync("error: " + OneLine(message)).ConfigureAwait(false);
            await Stderr.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return code;
        }

        private static (int Code, string Message) Describe(Exception ex) => ex switch
        {
            CliUsageException or InvalidVPodSpecException or OptionsValidationException or ArgumentException or InvalidChainRequestException
                or Clusters.InvalidClusterSpecException or Federation.InvalidJobSpecException or MetaNode.Security.InvalidAccessRequestException
                or MetaNode.Storage.InvalidStorageRequestException
                => (ExitCodes.UsageError, ex.Message),
            VPodNotFoundException or InvalidVPodOperationException or MetaNodeConnectionException
                or ChainUnavailableException or ChainRevertException or ChainTransactionException or UnsignedRoundException or VPodIdentityException
                => (ExitCodes.OperationFailed, ex.Message),
            SiloUnavailableException or OrleansMessageRejectionException
                => (ExitCodes.OperationFailed, $"lost the connection to the cluster: {ex.Message}"),
            TimeoutException
                => (ExitCodes.OperationFailed, $"the cluster did not answer in time: {ex.Message}"),
            _ => (ExitCodes.OperationFailed, ex.Message),
        };

        private static Option<string> CreateOutputOption()
        {
            var option = new Option<string>("--output", "-o")
            {
                Description = "table for people, json for scripts.",
                HelpName = "table|json",
                Recursive = true,
                DefaultValueFactory = _ => "table",
            };
            option.AcceptOnlyFromAmong("table", "json");
            return option;
        }
    }
}
