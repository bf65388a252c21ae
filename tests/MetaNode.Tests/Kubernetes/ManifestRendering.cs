using MetaNode.Tests.Infrastructure;

namespace MetaNode.Tests.Kubernetes;

/// <summary>Renders deploy/k8s with <c>kubectl kustomize</c> and runs the schema validator in deploy/k8s-validate (installing its packages with <c>npm ci</c> when missing).</summary>
internal static class ManifestRendering
{
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The schema validator, pinned by deploy/k8s-validate's lockfile (its newest package marks an up-to-date install).</summary>
    private static NodePackage Validator { get; } = new(Path.Combine(RepositoryRoot, "deploy", "k8s-validate"), "@kubernetes-models/prometheus-operator");

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
        var (code, stdout, stderr) = await Validator.NodeAsync("validate.mjs", files);
        return (code, stdout + stderr);
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(string program, IReadOnlyList<string> arguments, string workingDirectory, string missingMessage) =>
        ExternalProgram.RunAsync(program, arguments, workingDirectory, missingMessage, TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();

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
