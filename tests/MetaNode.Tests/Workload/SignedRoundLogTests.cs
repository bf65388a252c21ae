using MetaNode.Tests.Infrastructure;
using MetaNode.Workload.Keys;
using MetaNode.Workloads;

namespace MetaNode.Tests.Workload;

/// <summary>The validator's equivocation guard on a real file: what it refuses, what survives a torn append, what another process wrote.</summary>
public sealed class SignedRoundLogTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("metanode-signed-rounds-").FullName;

    private string LogPath => Path.Combine(_directory, WorkloadProtocol.SignedRoundsFileName);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static SignedRoundRecord Round(int round, string digest = "0xaa", string job = "job-1", string registry = "0x00000000000000000000000000000000000000aa") =>
        new(31337, registry, job, round, digest);

    [Fact]
    public void ASecondDigestForARound_IsRefused_AndTheSameOneAnsweredAgain()
    {
        var log = new SignedRoundLog(_directory);

        Assert.Null(log.TryRecord(Round(1, "0xaa")));
        Assert.Null(log.TryRecord(Round(1, "0xAA")));
        Assert.Equal("0xaa", log.TryRecord(Round(1, "0xbb"))?.Digest);
        Assert.Equal("0xaa", log.TryRecord(Round(1, "0xbb", registry: "0x00000000000000000000000000000000000000AA"))?.Digest);
        Assert.Null(log.TryRecord(Round(1, "0xbb", job: "job-2")));
        Assert.Null(log.TryRecord(Round(2, "0xbb")));

        Assert.Equal(3, File.ReadAllLines(LogPath).Length);
        Assert.Equal(["job-1/1/0xaa", "job-2/1/0xbb", "job-1/2/0xbb"], new SignedRoundLog(_directory).ReadAll().Select(r => $"{r.Job}/{r.Round}/{r.Digest}"));
    }

    [Fact]
    public void WhatAnotherProcessAppended_IsSeenByAnInstanceThatReadTheLogBefore()
    {
        var first = new SignedRoundLog(_directory);
        Assert.Null(first.TryRecord(Round(1)));

        // Another process of the same vPod (a restart overlapping the old one) signs round 2 through its own instance.
        Assert.Null(new SignedRoundLog(_directory).TryRecord(Round(2, "0xcc")));

        Assert.Equal("0xcc", first.TryRecord(Round(2, "0xdd"))?.Digest);
        Assert.Equal(["0xaa", "0xcc"], first.ReadAll().Select(r => r.Digest));
    }

    [Fact]
    public void ATornLastAppend_SignedNothing_IsCutOff_AndTheLogStaysReadable()
    {
        Assert.Null(new SignedRoundLog(_directory).TryRecord(Round(1)));
        File.AppendAllText(LogPath, "{\"chainId\":31337,\"registry\":\"0x00");

        var log = new SignedRoundLog(_directory);
        Assert.Single(log.ReadAll());
        Assert.Null(log.TryRecord(Round(2, "0xbb")));
        Assert.Null(log.TryRecord(Round(3, "0xcc")));

        // A fresh reader (the validator restarted) finds only whole records: the torn bytes are gone, not a damaged line.
        Assert.Equal([1, 2, 3], new SignedRoundLog(_directory).ReadAll().Select(r => r.Round));
        Assert.DoesNotContain("\"registry\":\"0x00\n", File.ReadAllText(LogPath), StringComparison.Ordinal);
    }

    [Fact]
    public void AWholeLastRecordWithoutItsNewline_Counts_AndTheNextAppendEndsItsLine()
    {
        Assert.Null(new SignedRoundLog(_directory).TryRecord(Round(1)));
        File.WriteAllText(LogPath, File.ReadAllText(LogPath).TrimEnd('\n'));

        var log = new SignedRoundLog(_directory);
        Assert.Equal("0xaa", log.TryRecord(Round(1, "0xbb"))?.Digest);
        Assert.Null(log.TryRecord(Round(2)));

        Assert.Equal(2, File.ReadAllLines(LogPath).Length);
        Assert.Equal([1, 2], new SignedRoundLog(_directory).ReadAll().Select(r => r.Round));
    }

    [Fact]
    public void ADamagedLineBeforeTheEnd_StopsSigning_AndNothingIsWritten()
    {
        var log = new SignedRoundLog(_directory);
        Assert.Null(log.TryRecord(Round(1)));
        File.AppendAllText(LogPath, "not json\n");
        var before = File.ReadAllBytes(LogPath);

        // The instance that read the log before the damage sees it too: it reads what was appended since.
        var error = Assert.Throws<SignedRoundLogException>(() => log.TryRecord(Round(2)));
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
        Assert.Throws<SignedRoundLogException>(() => new SignedRoundLog(_directory).TryRecord(Round(2)));
        Assert.Equal(before, File.ReadAllBytes(LogPath));
    }

    [Fact]
    public void ALogReplacedByAShorterOne_IsReadAgainFromTheStart()
    {
        var log = new SignedRoundLog(_directory);
        Assert.Null(log.TryRecord(Round(1)));
        Assert.Null(log.TryRecord(Round(2)));
        var first = File.ReadAllLines(LogPath)[0];
        File.WriteAllText(LogPath, first.Replace("\"round\":1", "\"round\":5", StringComparison.Ordinal) + "\n");

        Assert.Equal([5], log.ReadAll().Select(r => r.Round));
        Assert.Null(log.TryRecord(Round(1, "0xbb")));
    }
}

/// <summary>
/// The Python workload's log (<c>SignedRounds</c>) and the C# one on the same file: each refuses what the other recorded, and a torn
/// append left by either is cut off by the next record, so neither later reads a damaged line.
/// </summary>
public sealed class PythonSignedRoundLogTests : IDisposable
{
    private const string Registry = "0x00000000000000000000000000000000000000aa";

    private readonly string _directory = Directory.CreateTempSubdirectory("metanode-py-signed-rounds-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task BothLogs_ShareOneFile_AndATornAppendNeverBecomesADamagedLine()
    {
        var log = new SignedRoundLog(_directory);
        Assert.Null(log.TryRecord(new SignedRoundRecord(31337, Registry, "job-1", 1, "0x" + new string('a', 64))));

        Assert.Equal("conflict", await PythonAdmitAsync(1, 'b'));
        Assert.Equal("admitted", await PythonAdmitAsync(2, 'c'));
        Assert.Equal("0x" + new string('c', 64), log.TryRecord(new SignedRoundRecord(31337, Registry, "job-1", 2, "0x" + new string('d', 64)))?.Digest);

        await File.AppendAllTextAsync(Path.Combine(_directory, WorkloadProtocol.SignedRoundsFileName), "{\"chainId\":31337,\"regis");
        Assert.Equal("admitted", await PythonAdmitAsync(3, 'e'));
        Assert.Null(log.TryRecord(new SignedRoundRecord(31337, Registry, "job-1", 4, "0x" + new string('f', 64))));

        Assert.Equal([1, 2, 3, 4], new SignedRoundLog(_directory).ReadAll().Select(r => r.Round));
        Assert.Equal("admitted", await PythonAdmitAsync(5, 'a'));
    }

    private async Task<string> PythonAdmitAsync(int round, char digit)
    {
        const string Script = """
            import sys; sys.path.insert(0, sys.argv[1]); import workload
            log = workload.SignedRounds(sys.argv[2])
            try:
                log.admit(31337, sys.argv[3], "job-1", int(sys.argv[4]), bytes.fromhex(sys.argv[5]))
                print("admitted")
            except workload.Conflict:
                print("conflict")
            """;
        var (code, stdout, stderr) = await ExternalProgram.RunAsync(
            WorkloadProcess.PythonInterpreter,
            ["-c", Script, Path.GetDirectoryName(WorkloadProcess.PythonScript)!, _directory, Registry, round.ToString(System.Globalization.CultureInfo.InvariantCulture), new string(digit, 64)],
            AppContext.BaseDirectory,
            "Debian's python3 with python3-ecdsa and python3-pycryptodome runs the Python workload (.ci/run installs them)",
            TimeSpan.FromMinutes(2));
        Assert.True(code == 0, stderr);
        return stdout.Trim();
    }
}
