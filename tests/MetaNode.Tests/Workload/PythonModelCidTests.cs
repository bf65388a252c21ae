using MetaNode.Tests.Infrastructure;
using MetaNode.Tests.Storage;

namespace MetaNode.Tests.Workload;

/// <summary>
/// The Python workload names a model by the CID that validators sign (<c>unixfs_file_cid</c>): the same as IPFS's own JavaScript
/// importer gives, also past one chunk and past one full node of 174 links (a second tree level).
/// </summary>
public sealed class PythonModelCidTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("metanode-pycid-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(StorageTestData.Chunk)]
    [InlineData(StorageTestData.Chunk + 1)]
    [InlineData(StorageTestData.FullNode)]
    [InlineData(StorageTestData.FullNode + 1)]
    public async Task PythonModelCid_EqualsTheJsImporters(int size)
    {
        var file = Path.Combine(_directory.FullName, $"{size}.bin");
        await File.WriteAllBytesAsync(file, StorageTestData.Bytes(size));

        Assert.Equal(await IpfsReference.CidAsync(file), await PythonCidAsync(file));
    }

    private static async Task<string> PythonCidAsync(string file)
    {
        var (code, stdout, stderr) = await ExternalProgram.RunAsync(
            WorkloadProcess.PythonInterpreter,
            ["-c", "import sys; sys.path.insert(0, sys.argv[1]); import workload; print(workload.cid_text(workload.unixfs_file_cid(open(sys.argv[2], 'rb').read())))",
                Path.GetDirectoryName(WorkloadProcess.PythonScript)!, file],
            AppContext.BaseDirectory,
            "Debian's python3 with python3-ecdsa and python3-pycryptodome runs the Python workload (.ci/run installs them)",
            TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr);
        return stdout.Trim();
    }
}
