using MetaNode.Cli;
using MetaNode.Client;

namespace MetaNode.Tests.Cli;

/// <summary>Runs <see cref="CliApp"/> in-process against a fake client and captures what it printed.</summary>
internal sealed class CliRunner
{
    public FakeMetaNodeClient Client { get; } = new();

    public List<MetaNodeClientOptions> Connections { get; } = [];

    /// <summary>When set, connecting fails with this exception built from the options the CLI passed.</summary>
    public Func<MetaNodeClientOptions, Exception>? ConnectFailure { get; set; }

    public async Task<CliResult> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr, ConnectAsync, cancellationToken);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(args, CancellationToken.None);

    private Task<IMetaNodeClient> ConnectAsync(MetaNodeClientOptions options, CancellationToken cancellationToken)
    {
        Connections.Add(options);
        return ConnectFailure is { } failure
            ? Task.FromException<IMetaNodeClient>(failure(options))
            : Task.FromResult<IMetaNodeClient>(Client);
    }
}

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The error lines printed on standard error.</summary>
    public IReadOnlyList<string> ErrorLines =>
        Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}; stdout: {Stdout}; stderr: {Stderr}";
}
