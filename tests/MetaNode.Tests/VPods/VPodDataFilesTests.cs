using System.Formats.Tar;
using System.Text;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime;
using MetaNode.Grains.Runtime.Docker;
using MetaNode.Grains.Runtime.Kubernetes;
using MetaNode.Grains.VPods;
using MetaNode.VPods;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace MetaNode.Tests.VPods;

/// <summary>Data files for a vPod: the name and size rules, the tar archive a docker vPod receives, the atomic directory writer, the partition's files.</summary>
public sealed class VPodDataFilesTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 3, 0, 0, TimeSpan.Zero);

    private static VPodDataFiles Files(params (string Name, string Text)[] files) =>
        new() { Files = files.Select(f => new VPodDataFile(f.Name, Encoding.UTF8.GetBytes(f.Text))).ToList() };

    [Theory]
    [InlineData("train.csv")]
    [InlineData("manifest.json")]
    [InlineData(".hidden")]
    [InlineData("a..b")]
    [InlineData("näme with space")]
    public void NameError_IsNull_WhenTheNameIsAPlainFileName(string name) =>
        Assert.Null(VPodDataValidation.NameError(name));

    [Theory]
    [InlineData("", "empty")]
    [InlineData(".", "is not a file")]
    [InlineData("..", "is not a file")]
    [InlineData("../etc/passwd", "path separator")]
    [InlineData("data/train.csv", "path separator")]
    [InlineData("/train.csv", "path separator")]
    [InlineData("..\\x", "path separator")]
    [InlineData("a\0b", "control character")]
    [InlineData("line\nbreak", "control character")]
    public void NameError_NamesTheProblem_WhenTheNameIsNotAPlainFileName(string name, string problem)
    {
        var error = VPodDataValidation.NameError(name);

        Assert.NotNull(error);
        Assert.Contains(problem, error, StringComparison.Ordinal);
    }

    [Fact]
    public void NameError_RefusesNamesLongerThanTheLimit()
    {
        Assert.Null(VPodDataValidation.NameError(new string('a', VPodDataValidation.MaxNameLength)));
        Assert.Contains("characters long", VPodDataValidation.NameError(new string('a', VPodDataValidation.MaxNameLength + 1)), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ListsEveryProblem_WhenNamesRepeatOrAreBadOrTheSetIsEmpty()
    {
        var errors = VPodDataValidation.Validate(Files(("a.csv", "1"), ("a.csv", "2"), ("x/y", "3")));

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("'a.csv' is given twice", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'x/y' contains a path separator", StringComparison.Ordinal));
        Assert.Contains("no files", Assert.Single(VPodDataValidation.Validate(new VPodDataFiles())), StringComparison.Ordinal);
        Assert.Empty(VPodDataValidation.Validate(Files(("empty", ""))));
    }

    [Fact]
    public void Validate_RefusesMoreBytesThanTheCap_NamingTheCap()
    {
        var half = new byte[(VPodDataValidation.MaxTotalBytes / 2) + 1];
        var files = new VPodDataFiles { Files = [new VPodDataFile("a", half), new VPodDataFile("b", half)] };

        var error = Assert.Single(VPodDataValidation.Validate(files));
        var thrown = Assert.Throws<InvalidVPodDataException>(() => VPodDataValidation.ThrowIfInvalid("vpod-x", files));

        Assert.Contains($"{files.TotalBytes} bytes", error, StringComparison.Ordinal);
        Assert.Contains($"{VPodDataValidation.MaxTotalBytes} bytes", error, StringComparison.Ordinal);
        Assert.StartsWith("vPod 'vpod-x': the data files were refused, nothing was written", thrown.Message, StringComparison.Ordinal);
        Assert.Empty(VPodDataValidation.Validate(new VPodDataFiles { Files = [new VPodDataFile("a", new byte[VPodDataValidation.MaxTotalBytes])] }));
    }

    [Fact]
    public void Build_PutsEachFileUnderTheDataDirectoryInOrder_WithItsExactBytes()
    {
        var files = Files(("train.csv", "0.1,2,1\n3,4,0\n"), ("test.csv", ""), ("manifest.json", "{\"format\":\"metanode-partition/1\"}"));

        var archive = DockerDataArchive.Build(DockerContainerSpec.DataDirectory, files, At);

        var entries = ReadTar(archive);
        Assert.Equal(["vpod/data/train.csv", "vpod/data/test.csv", "vpod/data/manifest.json"], entries.Select(e => e.Name));
        Assert.Equal(files.Files.Select(f => f.Content), entries.Select(e => e.Content));
        Assert.All(entries, e =>
        {
            Assert.Equal(TarEntryType.RegularFile, e.Type);
            Assert.Equal(DockerDataArchive.FileMode, e.Mode);
            Assert.Equal((0, 0), (e.Uid, e.Gid));
            Assert.Equal(At, e.Modified);
        });
    }

    [Fact]
    public void Build_UsesThePersistentStorageMountPath_WhenTheSpecHasOne()
    {
        var spec = new VPodSpec { Name = "s", DeploymentMethod = DeploymentMethod.Docker, Image = "i", PersistentStorage = new StorageRequest(1 << 20, MountPath: "/mnt/state/") };
        var files = Files(("manifest.json", "{}"));

        var directory = DockerContainerSpec.DataDirectoryOf(spec);
        var entries = ReadTar(DockerDataArchive.Build(directory, files, At));

        Assert.Equal("/mnt/state/", directory);
        Assert.Equal(["mnt/state/manifest.json"], entries.Select(e => e.Name));
        Assert.Equal(DockerContainerSpec.DataDirectory, DockerContainerSpec.DataDirectoryOf(spec with { PersistentStorage = null }));
        Assert.Contains($"METANODE_DATA_DIR={directory}", DockerContainerSpec.Build("vpod-s", spec, new DockerRuntimeOptions(), 8080).Env);
    }

    [Theory]
    [InlineData("vpod/data")]
    [InlineData("/vpod/../etc")]
    public void Build_RefusesADataDirectoryThatIsNotAnAbsolutePathWithoutDotSegments(string directory) =>
        Assert.Throws<InvalidVPodSpecException>(() => DockerDataArchive.Build(directory, Files(("a", "1")), At));

    [Fact]
    public void Build_RefusesBadNames_BeforeWritingAnything() =>
        Assert.Throws<InvalidVPodDataException>(() => DockerDataArchive.Build("/vpod/data", Files(("ok", "1"), ("../escape", "2")), At));

    [Fact]
    public void DirectoryWriter_WritesEveryFileWithItsBytes_LeavingNoTemporaryFiles_AndOverwritesOnASecondWrite()
    {
        var directory = Path.Combine(Path.GetTempPath(), "metanode-data-" + Guid.NewGuid().ToString("N")[..10], "data");
        try
        {
            DataDirectoryWriter.Write(directory, Files(("train.csv", "1,2,0\n"), ("manifest.json", "{\"v\":1}")));
            DataDirectoryWriter.Write(directory, Files(("train.csv", "3,4,1\n"), ("manifest.json", "{\"v\":2}")));

            Assert.Equal(["manifest.json", "train.csv"], Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            Assert.Equal("3,4,1\n", File.ReadAllText(Path.Combine(directory, "train.csv")));
            Assert.Equal("{\"v\":2}", File.ReadAllText(Path.Combine(directory, "manifest.json")));
            Assert.Throws<InvalidVPodDataException>(() => DataDirectoryWriter.Write(directory, Files(("fine", "x"), ("..", "y"))));
            Assert.False(File.Exists(Path.Combine(directory, "fine")), "a refused set writes nothing");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(directory)!, recursive: true);
        }
    }

    [Fact]
    public void PartitionFiles_AreTheSplitsThenTheManifest_WithTheCsvBytes()
    {
        var data = new TabularDataset("t", 2, [0.1, 1e-20, 3, 4, 5, 6], [2, 0, 1]);
        var test = data.Select([2]);

        var compute = PartitionWriter.Files(new PartitionDescription("t", "iid", 1, 3, 7), data, null);
        var both = PartitionWriter.Files(new PartitionDescription("t", "iid", 1, 3, 7), data, test);

        Assert.Equal(["train.csv", "manifest.json"], compute.Files.Select(f => f.Name));
        Assert.Equal(["train.csv", "test.csv", "manifest.json"], both.Files.Select(f => f.Name));
        Assert.Equal("0.1,1E-20,2\n3,4,0\n5,6,1\n", Encoding.UTF8.GetString(compute.Files[0].Content));
        Assert.Equal(PartitionWriter.ToCsv(test), both.Files[1].Content);
        Assert.Equal(
            "{\"format\":\"metanode-partition/1\",\"dataset\":\"t\",\"features\":2,\"classes\":3,\"partition\":\"iid\",\"part\":1,\"parts\":3,\"seed\":7,\"splits\":{\"train\":{\"file\":\"train.csv\",\"rows\":3}}}",
            Encoding.UTF8.GetString(compute.Files[^1].Content));
        Assert.Empty(VPodDataValidation.Validate(both));
    }

    [Fact]
    public void Place_GivesEachVPodItsFiles_AndTheSameBytesWhenPlacedAgain()
    {
        var digits = BuiltInDatasets.LoadDigits();
        var spec = new FederatedJobSpec { ComputeCluster = "c", ValidatorCluster = "v", Dataset = "digits", Partition = PartitionScheme.Iid, Seed = 3 };
        var plan = DataPartitioner.Plan(digits, spec.Partition, 2, spec.TestFraction, spec.Seed);

        var first = FederatedDataPlacement.Place(spec, digits, ["vpod-b", "vpod-a"], ["vpod-v"]);
        var again = FederatedDataPlacement.Place(spec, digits, ["vpod-a", "vpod-b"], ["vpod-v"]);

        Assert.Equal(["vpod-a", "vpod-b", "vpod-v"], first.Files.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(PartitionWriter.ToCsv(plan.Parts[1]), first.Files["vpod-b"].Files.Single(f => f.Name == "train.csv").Content);
        Assert.Equal(PartitionWriter.ToCsv(plan.Test), first.Files["vpod-v"].Files.Single(f => f.Name == "test.csv").Content);
        Assert.All(first.Files.Values, f => Assert.Equal(PartitionWriter.ManifestFile, f.Files[^1].Name));
        foreach (var (id, files) in first.Files)
        {
            Assert.Equal(files.Files.Select(f => (f.Name, Convert.ToHexString(f.Content))), again.Files[id].Files.Select(f => (f.Name, Convert.ToHexString(f.Content))));
        }
    }

    [Fact]
    public void KubernetesDataRefusal_NamesTheRuntime() =>
        Assert.Contains("runs on the kubernetes runtime", KubernetesRuntime.DataRefusal("vpod-k"), StringComparison.Ordinal);

    [Theory]
    [InlineData(VPodPhase.Starting, true)]
    [InlineData(VPodPhase.Running, true)]
    [InlineData(VPodPhase.Degraded, true)]
    [InlineData(VPodPhase.Stopped, true)]
    [InlineData(VPodPhase.Failed, true)]
    [InlineData(VPodPhase.None, false)]
    [InlineData(VPodPhase.Pending, false)]
    [InlineData(VPodPhase.Provisioning, false)]
    [InlineData(VPodPhase.Stopping, false)]
    [InlineData(VPodPhase.Restarting, false)]
    [InlineData(VPodPhase.Deleting, false)]
    [InlineData(VPodPhase.Deleted, false)]
    public void HoldsData_IsTrueOnlyWhileTheWorkloadExistsAndNoOperationRuns(VPodPhase phase, bool holds) =>
        Assert.Equal(holds, VPodStateMachine.HoldsData(phase));

    [Fact]
    public void DataFiles_RoundTripThroughOrleansSerialization_WithTheirBytesAndOrder()
    {
        var services = new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(VPodDataFiles).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var files = Files(("train.csv", "1,2\n"), ("manifest.json", "{}"));

        var back = serializer.Deserialize<VPodDataFiles>(serializer.SerializeToArray(files))!;
        var refused = serializer.Deserialize<InvalidVPodOperationException>(serializer.SerializeToArray(new InvalidVPodOperationException("vpod-x", VPodPhase.Deleted, "no workload")))!;

        Assert.Equal(files.Files.Select(f => (f.Name, Convert.ToHexString(f.Content))), back.Files.Select(f => (f.Name, Convert.ToHexString(f.Content))));
        Assert.Equal(("vpod-x", VPodPhase.Deleted, "no workload"), (refused.VPodId, refused.Phase, refused.Message));
    }

    private static List<(string Name, byte[] Content, TarEntryType Type, UnixFileMode Mode, int Uid, int Gid, DateTimeOffset Modified)> ReadTar(byte[] archive)
    {
        var entries = new List<(string, byte[], TarEntryType, UnixFileMode, int, int, DateTimeOffset)>();
        using var reader = new TarReader(new MemoryStream(archive));
        while (reader.GetNextEntry() is { } entry)
        {
            using var content = new MemoryStream();
            entry.DataStream?.CopyTo(content);
            entries.Add((entry.Name, content.ToArray(), entry.EntryType, entry.Mode, entry.Uid, entry.Gid, entry.ModificationTime));
        }

        return entries;
    }
}
