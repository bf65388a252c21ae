using System.Diagnostics;
using System.Text.Json;

namespace MetaNode.Tests.Infrastructure;

/// <summary>
/// IPFS's own JavaScript implementation, pinned in <c>tests/ipfs-reference</c> (run <c>npm ci</c> there), run offline as an
/// oracle: the root CID <c>ipfs-unixfs-importer</c> gives a file, and a CAR checked block by block with <c>@ipld/car</c>.
/// </summary>
public static class IpfsReference
{
    public static string Folder => Path.Combine(AnvilNode.RepositoryRoot, "tests", "ipfs-reference");

    /// <summary>The root CID the importer gives the file (CIDv1, raw leaves, 262,144-byte chunks, 174 links per node).</summary>
    public static async Task<string> CidAsync(string file) => (await RunAsync("cid.mjs", file)).Trim();

    /// <summary>Checks every block of a CAR against its CID and the root, and writes the file it holds to <paramref name="outFile"/>; throws when the check fails.</summary>
    public static async Task<JsonElement> CheckCarAsync(string carFile, string expectedRoot, string outFile) =>
        JsonDocument.Parse(await RunAsync("car-check.mjs", carFile, expectedRoot, outFile)).RootElement;

    /// <summary>The exit code and standard error of car-check on a CAR (for CARs that must be refused).</summary>
    public static async Task<(int ExitCode, string Stderr)> TryCheckCarAsync(string carFile, string expectedRoot)
    {
        var (code, _, stderr) = await ExecAsync("car-check.mjs", carFile, expectedRoot);
        return (code, stderr);
    }

    private static async Task<string> RunAsync(string script, params string[] args)
    {
        var (code, stdout, stderr) = await ExecAsync(script, args);
        return code == 0 ? stdout : throw new InvalidOperationException($"node {script} {string.Join(' ', args)} exited {code}: {stderr}");
    }

    private static async Task<(int Code, string Stdout, string Stderr)> ExecAsync(string script, params string[] args)
    {
        var path = Path.Combine(Folder, script);
        if (!Directory.Exists(Path.Combine(Folder, "node_modules")))
        {
            throw new InvalidOperationException($"the IPFS reference packages are not installed: run 'npm ci' in {Folder}.");
        }

        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Folder };
        info.ArgumentList.Add(path);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
