using System.Text.Json;
using MetaNode.Cli;

namespace MetaNode.Tests.Infrastructure;

/// <summary>Runs <c>metanode-cli</c> commands in-process against a real cluster (real client, real gateway).</summary>
public sealed class CliRunner(params string[] connection)
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public JsonElement Json => JsonDocument.Parse(Stdout).RootElement;

        public override string ToString() => $"exit {ExitCode}; stdout: {Stdout}; stderr: {Stderr}";
    }

    public async Task<Result> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await CliApp.RunAsync([.. args, .. connection], stdout, stderr);
        return new Result(exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs a command that must succeed and returns its JSON output.</summary>
    public async Task<JsonElement> JsonAsync(params string[] args)
    {
        var result = await RunAsync([.. args, "--output", "json"]);
        Assert.True(result.ExitCode == 0, $"metanode-cli {string.Join(' ', args)} failed: {result}");
        return result.Json;
    }

    public Task<JsonElement> StatusAsync(string id) => JsonAsync("vpod", "status", "--id", id);
}

public static class SiloProcessCli
{
    /// <summary>A CLI runner against this silo's gateway with its admin identity.</summary>
    public static CliRunner Cli(this SiloProcess silo) =>
        silo.AdminIdentity is { } identity ? new CliRunner("--gateway", silo.Gateway, "--identity", identity) : new CliRunner("--gateway", silo.Gateway);
}
