using System.Diagnostics;

namespace MetaNode.Tests.Storage;

/// <summary>
/// IPFS's own JavaScript implementation, pinned in tests/ipfs-reference (its committed package-lock.json; <c>npm ci</c> runs
/// there when node_modules is missing): <c>cid.mjs</c> imports a file as <c>ipfs add --cid-version 1</c> does, <c>car-check.mjs</c>
/// verifies a CAR and exports the file in it.
/// </summary>
internal static class IpfsReference
{
    private static readonly SemaphoreSlim NpmGate = new(1, 1);

    public static string RepositoryRoot { get; } = FindRoot();

    public static string Folder { get; } = Path.Combine(RepositoryRoot, "tests", "ipfs-reference");

    /// <summary>The root CID the JS importer gives <paramref name="file"/>.</summary>
    public static async Task<string> CidAsync(string file)
    {
        var (code, stdout, stderr) = await NodeAsync("cid.mjs", file);
        Assert.True(code == 0, $"cid.mjs {file} failed with exit code {code}: {stderr}");
        return stdout.Trim();
    }

    /// <summary>Runs car-check.mjs; returns its exit code and output (stdout: the JSON summary, stderr: what is wrong).</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> CarCheckAsync(string car, string? expectedRoot = null, string? outFile = null)
    {
        var arguments = new List<string> { car };
        if (expectedRoot is not null || outFile is not null)
        {
            arguments.Add(expectedRoot ?? string.Empty);
        }

        if (outFile is not null)
        {
            arguments.Add(outFile);
        }

        return NodeAsync("car-check.mjs", [.. arguments]);
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> NodeAsync(string script, params string[] arguments)
    {
        await EnsureInstalledAsync();
        return await RunAsync("node", [Path.Combine(Folder, script), .. arguments], "node is required for the IPFS reference scripts");
    }

    private static async Task EnsureInstalledAsync()
    {
        await NpmGate.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(Folder, "node_modules", "ipfs-unixfs-importer")))
            {
                var (code, stdout, stderr) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    "npm is required to install the IPFS reference packages (Debian: apt-get install npm)");
                Assert.True(code == 0, $"npm ci in tests/ipfs-reference failed with exit code {code}: {stdout}{stderr}");
            }
        }
        finally
        {
            NpmGate.Release();
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, IReadOnlyList<string> arguments, string missingMessage)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Folder,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException($"{missingMessage}: {exception.Message}", exception);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within 3 minutes");
            }

            return (process.ExitCode, await stdout, await stderr);
        }
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MetaNode.Grains.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"the repository root (with MetaNode.Grains.sln) is not above {AppContext.BaseDirectory}");
    }
}
