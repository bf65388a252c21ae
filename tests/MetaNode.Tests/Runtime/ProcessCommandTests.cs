using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;

namespace MetaNode.Tests.Runtime;

public sealed class ProcessCommandTests
{
    [Fact]
    public void Resolve_RunsTheReferenceWorkloadWithDotnet_WhenTheSpecGivesNoProgram()
    {
        var workload = Path.Combine(Path.GetTempPath(), $"reference-{Guid.NewGuid():N}.dll");
        File.WriteAllText(workload, string.Empty);
        try
        {
            var command = ProcessCommand.Resolve(new VPodSpec { Name = "reference" }, new ProcessRuntimeOptions { ReferenceWorkloadPath = workload });

            Assert.Equal("dotnet", Path.GetFileName(command.FileName));
            Assert.Equal([workload], command.Arguments);
        }
        finally
        {
            File.Delete(workload);
        }
    }

    [Fact]
    public void Resolve_FindsABareProgramNameOnPath_AndKeepsTheRestAsArguments()
    {
        var command = ProcessCommand.Resolve(new VPodSpec { Name = "sh", Command = ["sh", "-c", "echo $HOME"] }, new ProcessRuntimeOptions());

        Assert.True(Path.IsPathFullyQualified(command.FileName), command.FileName);
        Assert.Equal("sh", Path.GetFileName(command.FileName));
        Assert.Equal(["-c", "echo $HOME"], command.Arguments);
    }

    [Fact]
    public void Resolve_RejectsEnvironmentNamesThatCannotBeSet()
    {
        var spec = new VPodSpec { Name = "env", Command = ["/bin/true"], Env = new Dictionary<string, string> { ["A=B"] = "x" } };

        var error = Assert.Throws<InvalidVPodSpecException>(() => ProcessCommand.Resolve(spec, new ProcessRuntimeOptions()));

        Assert.Contains("'A=B'", error.Message, StringComparison.Ordinal);
    }
}
