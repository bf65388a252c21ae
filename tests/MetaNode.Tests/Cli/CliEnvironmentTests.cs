using MetaNode.Cli;

namespace MetaNode.Tests.Cli;

[CollectionDefinition(nameof(ProcessEnvironmentCollection), DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;

/// <summary>Reads process-wide environment variables, so it runs alone.</summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class CliEnvironmentTests
{
    [Fact]
    public async Task Command_UsesGatewaysFromEnvironment_WhenNoFlagIsGiven()
    {
        var cli = new CliRunner();
        using (new EnvironmentVariable(CliApp.GatewayEnvironmentVariable, "127.0.0.1:31001,127.0.0.1:31002"))
        using (new EnvironmentVariable(CliApp.ConnectionStringEnvironmentVariable, null))
        {
            var result = await cli.RunAsync("vpod", "list");
            Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        }

        Assert.Equal(["127.0.0.1:31001", "127.0.0.1:31002"], Assert.Single(cli.Connections).Gateways);
    }

    [Fact]
    public async Task Command_PrefersGatewayFlag_OverEnvironment()
    {
        var cli = new CliRunner();
        using (new EnvironmentVariable(CliApp.GatewayEnvironmentVariable, "127.0.0.1:31001"))
        using (new EnvironmentVariable(CliApp.ConnectionStringEnvironmentVariable, "Host=127.0.0.1;Database=metanode"))
        {
            var result = await cli.RunAsync("vpod", "list", "--gateway", "127.0.0.1:31005");
            Assert.True(result.ExitCode == ExitCodes.Success, result.ToString());
        }

        var options = Assert.Single(cli.Connections);
        Assert.Equal(["127.0.0.1:31005"], options.Gateways);
        Assert.False(options.UsesDatabaseClustering);
    }

    [Fact]
    public async Task Command_NamesEnvironmentVariable_WhenItsGatewayIsInvalid()
    {
        var cli = new CliRunner();
        using (new EnvironmentVariable(CliApp.GatewayEnvironmentVariable, "nohost"))
        using (new EnvironmentVariable(CliApp.ConnectionStringEnvironmentVariable, null))
        {
            var result = await cli.RunAsync("vpod", "list");
            Assert.Equal(ExitCodes.UsageError, result.ExitCode);
            Assert.Contains(CliApp.GatewayEnvironmentVariable, Assert.Single(result.ErrorLines));
        }
    }

    private sealed class EnvironmentVariable : IDisposable
    {
        private readonly string _name;
        private readonly string? _previous;

        public EnvironmentVariable(string name, string? value)
        {
            _name = name;
            _previous = Environment.GetEnvironmentVariable(name);
            Environment.SetEnvironmentVariable(name, value);
        }

        public void Dispose() => Environment.SetEnvironmentVariable(_name, _previous);
    }
}
