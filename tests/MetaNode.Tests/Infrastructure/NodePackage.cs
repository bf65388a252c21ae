namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// A folder of the repository holding pinned npm packages (its committed package-lock.json) and scripts run with node:
/// <c>npm ci</c> runs there once when <paramref name="markerPackage"/> is not installed, then scripts run with the folder as working directory.
/// </summary>
public sealed class NodePackage(string folder, string markerPackage)
{
    private readonly SemaphoreSlim _npmGate = new(1, 1);

    public string Folder { get; } = folder;

    /// <summary>Runs <c>node script arguments…</c>; returns its exit code, standard output and standard error.</summary>
    public async Task<(int ExitCode, string Stdout, string Stderr)> NodeAsync(string script, params string[] arguments)
    {
        await EnsureInstalledAsync();
        return await RunAsync("node", [Path.Combine(Folder, script), .. arguments], "node is required for " + Path.GetFileName(Folder));
    }

    private async Task EnsureInstalledAsync()
    {
        await _npmGate.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(Folder, "node_modules", markerPackage)))
            {
                var (code, stdout, stderr) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    $"npm is required to install the packages of {Path.GetFileName(Folder)} (Debian: apt-get install npm)");
                Assert.True(code == 0, $"npm ci in {Folder} failed with exit code {code}: {stdout}{stderr}");
            }
        }
        finally
        {
            _npmGate.Release();
        }
    }

    private Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IReadOnlyList<string> arguments, string missingMessage) =>
        ExternalProgram.RunAsync(program, arguments, Folder, missingMessage, TimeSpan.FromMinutes(3));
}
