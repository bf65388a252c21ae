using System.Diagnostics;
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
        var info = new ProcessStartInfo(WorkloadProcess.PythonInterpreter) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import sys; sys.path.insert(0, sys.argv[1]); import workload; print(workload.cid_text(workload.unixfs_file_cid(open(sys.argv[2], 'rb').read())))");
        info.ArgumentList.Add(Path.GetDirectoryName(WorkloadProcess.PythonScript)!);
        info.ArgumentList.Add(file);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, await stderr);
        return (await stdout).Trim();
    }
}
