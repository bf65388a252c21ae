using System.Diagnostics;

namespace MetaNode.Tests.Kubernetes;

/// <summary>Renders deploy/k8s with <c>kubectl kustomize</c> and runs the schema validator in deploy/k8s-validate (installing its packages with <c>npm ci</c> when missing).</summary>
internal static class ManifestRendering
{
    private static readonly SemaphoreSlim NpmGate = new(1, 1);

    public static string RepositoryRoot { get; } = FindRoot();

    public static string Render(string kustomization = "deploy/k8s")
    {
        var (code, stdout, stderr) = Run("kubectl", ["kustomize", Path.Combine(RepositoryRoot, kustomization)], RepositoryRoot,
            "kubectl is required to render deploy/k8s (Debian: apt-get install kubernetes-client; .ci/run installs it when missing)");
        Assert.True(code == 0, $"kubectl kustomize {kustomization} failed with exit code {code}: {stderr}");
        return stdout;
    }

    /// <summary>Runs deploy/k8s-validate/validate.mjs on the files; returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> ValidateWithSchemasAsync(params string[] files)
    {
        var folder = Path.Combine(RepositoryRoot, "deploy", "k8s-validate");
        await NpmGate.WaitAsync();
        try
        {
            if (!Directory.Exists(Path.Combine(folder, "node_modules", "kubernetes-models")))
            {
                var (npm, npmOut, npmErr) = Run("npm", ["ci", "--no-audit", "--no-fund"], folder,
                    "npm is required to install the manifest validator (Debian: apt-get install npm)");
                Assert.True(npm == 0, $"npm ci in deploy/k8s-validate failed with exit code {npm}: {npmOut}{npmErr}");
            }
        }
        finally
        {
            NpmGate.Release();
        }

        var (code, stdout, stderr) = Run("node", [Path.Combine(folder, "validate.mjs"), .. files], folder, "node is required to validate the rendered manifests");
        return (code, stdout + stderr);
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string program, IReadOnlyList<string> arguments, string workingDirectory, string missingMessage)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
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
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within 5 minutes");
            }

            return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
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
