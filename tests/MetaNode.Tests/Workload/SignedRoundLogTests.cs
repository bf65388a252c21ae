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
