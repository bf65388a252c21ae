using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Storage;

/// <summary>
/// IPFS's own JavaScript implementation, pinned in tests/ipfs-reference (its committed package-lock.json; <c>npm ci</c> runs
/// there when node_modules is missing): <c>cid.mjs</c> imports a file as <c>ipfs add --cid-version 1</c> does, <c>car-check.mjs</c>
/// verifies a CAR and exports the file in it.
/// </summary>
internal static class IpfsReference
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Folder { get; } = Path.Combine(RepositoryRoot, "tests", "ipfs-reference");

    private static NodePackage Package { get; } = new(Folder, "ipfs-unixfs-importer");

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

    private static Task<(int ExitCode, string Stdout, string Stderr)> NodeAsync(string script, params string[] arguments) =>
        Package.NodeAsync(script, arguments);

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
