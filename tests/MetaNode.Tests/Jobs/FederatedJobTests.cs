using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using MetaNode.Chain;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Tests.Chain;
using MetaNode.VPods;
using Xunit.Abstractions;

namespace MetaNode.Tests.Jobs;

/// <summary>Federated-average jobs end to end on real workload processes, a real silo and a real anvil.</summary>
public sealed partial class FederatedJobTests(FederatedJobFixture fixture, ITestOutputHelper output) : IClassFixture<FederatedJobFixture>
{
    private JobCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Run_ReachesDigitsAccuracyAbove095AndFinalizesEachRoundOnceOnChain_WhenTenComputeAndThreeValidatorVPodsTrainTenRounds()
    {
        var probe = Cluster.Grains.GetGrain<IChainEventProbeGrain>("job-probe-" + Guid.NewGuid().ToString("N")[..6]);
        await probe.SubscribeAsync(fixture.Registry);
        var job = NewJobId();

        var status = await Cluster.RunAsync(job, Spec(rounds: 10, minParticipants: 10), TimeSpan.FromMinutes(5));

        Report(status);
        Assert.Equal(FederatedJobPhase.Completed, status.Phase);
        Assert.Equal(10, status.Results.Count);
        Assert.True(status.FinalAccuracy >= 0.95, $"final accuracy {status.FinalAccuracy} is below 0.95");
        Assert.Equal(Enumerable.Range(1, 10), status.Results.Select(r => r.Round));
        foreach (var result in status.Results)
        {
            Assert.Equal(fixture.Compute, result.Participants);

            // Every validator computed the same model bytes: all three signed the one result, none disagreed.
            Assert.Equal(fixture.Validators.Order(StringComparer.Ordinal), result.Validators.Order(StringComparer.Ordinal));
            Assert.Empty(result.DisagreeingValidators);
            Assert.InRange(result.Accuracy ?? -1, 0.5, 1.0);
            var onChain = await Cluster.Chain.GetRoundAsync(job, result.Round);
            Assert.True(onChain.Finalized && onChain.Verified, $"round {result.Round} is not verified on chain");
            Assert.Equal(result.ResultHash, onChain.ResultHash);
            Assert.Equal(result.ReceiptsRoot, onChain.ReceiptsRoot);
            Assert.Equal(result.ModelRef, onChain.ModelRef);
            Assert.Equal(result.TxHash, onChain.TransactionHash);

            // The signatures that finalized it recover, over the registry's digest of this result, to the validators' proved addresses.
            var chainRound = new MetaNode.Chain.RoundResult { JobId = job, Round = result.Round, ResultHash = result.ResultHash, ReceiptsRoot = result.ReceiptsRoot, ModelRef = result.ModelRef!, ModelCid = result.ModelCid! };
            var digest = RegistryTypedData.FinalizeDigest(new RegistryDomain(31337, fixture.Registry), chainRound);
            var admitted = (await Task.WhenAll(fixture.Validators.Select(v => Cluster.Grains.GetGrain<IVPodGrain>(v).GetStatusAsync()))).ToDictionary(s => s.Id, s => s.Address);
            Assert.Equal(3, result.Signatures.Count);
            Assert.All(result.Signatures, s => Assert.Equal(admitted[s.VPodId!], EthereumSignatures.RecoverAddress(digest, EthereumSignatures.ParseSignature(s.Signature)!)));

            // The round keeps all three, but its transaction, as the node recorded it, carries exactly the registry's threshold (2):
            // the signatures of the two lowest signer addresses (compact, 64 bytes each), and the third validator as the one
            // non-signer the registry needs to rebuild its set.
            var sent = await new Nethereum.Web3.Web3(fixture.RpcUrl).Eth.Transactions.GetTransactionByHash.SendRequestAsync(result.TxHash);
            var lowest = RegistryTypedData.LowestSigners(result.Signatures, 2);
            var set = MetaNode.Grains.Chain.RegistryClient.SortValidators(admitted.Values.Select(a => a!));
            Assert.Equal(MetaNode.Grains.Chain.RegistryClient.EncodeFinalize(chainRound, lowest, set), sent.Input, StringComparer.OrdinalIgnoreCase);
            Assert.NotEqual(MetaNode.Grains.Chain.RegistryClient.EncodeFinalize(chainRound, result.Signatures, set), sent.Input, StringComparer.OrdinalIgnoreCase);
            var call = RegistryFinalizeCalldata.Decode(Convert.FromHexString(sent.Input[2..]));
            Assert.NotNull(call);
            Assert.Equal(chainRound, call.Round);
            Assert.Equal(lowest.Select(s => s.Signature.ToLowerInvariant()), call.Signatures);
            Assert.Equal(set.Except(lowest.Select(s => s.Signer), StringComparer.OrdinalIgnoreCase), call.NonSigners);

            // The model the round finalized is kept and hashes to the result on chain.
            var model = await Cluster.Grains.GetGrain<IFederatedJobGrain>(job).GetModelAsync(result.Round);
            Assert.Equal(result.ResultHash, FederationHashing.ToHex(FederationHashing.Keccak256(model)));
            Assert.Equal(result.ModelRef, FederationHashing.ToHex(SHA256.HashData(model!)));

            // The round names the stored model's IPFS CID, and so does the chain; chain finalize would re-submit the same.
            Assert.Equal(MetaNode.Storage.UnixFsFile.ComputeCid(model).ToString(), result.ModelCid);
            Assert.Equal(result.ModelCid, onChain.ModelCid);
            Assert.Equal(result.ModelCid, (await Cluster.Grains.GetGrain<IFederatedJobGrain>(job).GetSignedRoundAsync(result.Round))!.Round.ModelCid);
        }

        // Rounds 1–9 were moved out of the job's state three at a time (the cluster's page size); round 10, the last, stays in it.
        // The status, the models and the signed rounds above came from those pages as well.
        Assert.Equal(Enumerable.Range(1, 10), status.Timings.Select(t => t.Round));
        for (var page = 0; page < 3; page++)
        {
            var stored = await Cluster.Grains.GetGrain<IFederatedJobHistoryGrain>(FederatedJobHistoryKeys.Page(job, page)).GetAsync();
            Assert.NotNull(stored);
            Assert.Equal(Enumerable.Range(1 + 3 * page, 3), stored.Results.Select(r => r.Round));
            Assert.Equal(status.Results.Skip(3 * page).Take(3).Select(r => r.ResultHash), stored.Results.Select(r => r.ResultHash));
            Assert.Equal(Enumerable.Range(1 + 3 * page, 3), stored.Timings.Select(t => t.Round));
        }

        Assert.Null(await Cluster.Grains.GetGrain<IFederatedJobHistoryGrain>(FederatedJobHistoryKeys.Page(job, 3)).GetAsync());

        // Exactly one RoundFinalized event per round, each naming the round's model CID.
        var events = await Eventually(() => probe.GetEventsAsync(), e => e.Count(x => x.JobId == job) >= 10, "ten RoundFinalized events");
        Assert.Equal(Enumerable.Range(1, 10).Select(r => (long)r), events.Where(e => e.JobId == job).Select(e => e.Round).Order());
        Assert.Equal(status.Results.Select(r => ((long)r.Round, r.ModelCid)), events.Where(e => e.JobId == job).OrderBy(e => e.Round).Select(e => (e.Round, (string?)e.ModelCid)));
    }

    [Theory]
    [InlineData("avg", 0)]
    [InlineData("avgm", 0)]
    [InlineData("adam", 0.01)]
    public async Task Run_GivesTheReplayedModelBytes_AndEveryValidatorSignsTheSameState_WithEachServerOptimizer(string kind, double proximalMu)
    {
        var optimizer = ServerOptimizer.Parse(kind, null, null);
        var job = NewJobId();
        var spec = Spec(rounds: 3, minParticipants: 10) with { ServerOptimizer = optimizer, ProximalMu = proximalMu };

        var status = await Cluster.RunAsync(job, spec, TimeSpan.FromMinutes(3));

        Report(status);
        Assert.Equal(FederatedJobPhase.Completed, status.Phase);
        var replay = MetaNode.Bench.FederatedReplay.Run(BuiltInDatasets.LoadDigits(), spec.Partition, fixture.Compute.Count, spec.Seed, spec.Rounds, optimizer, proximalMu, computeCluster: FederatedJobFixture.ComputeCluster);
        var domain = new RegistryDomain(31337, fixture.Registry);
        var admitted = (await Task.WhenAll(fixture.Validators.Select(v => Cluster.Grains.GetGrain<IVPodGrain>(v).GetStatusAsync()))).ToDictionary(s => s.Id, s => s.Address);
        foreach (var result in status.Results)
        {
            // The three validators computed the same model (none disagreed), and it is the job's arithmetic replayed in one process.
            Assert.Equal(fixture.Validators.Order(StringComparer.Ordinal), result.Validators.Order(StringComparer.Ordinal));
            Assert.Empty(result.DisagreeingValidators);
            var model = await Cluster.Grains.GetGrain<IFederatedJobGrain>(job).GetModelAsync(result.Round);
            Assert.Equal(ModelEncoding.Encode(replay[result.Round - 1].Model), model);
            Assert.Equal(replay[result.Round - 1].Accuracy, result.Accuracy);
            if (!optimizer.HasState)
            {
                Assert.Null(result.StateHash);
                Assert.Empty(result.StateSignatures);
                continue;
            }

            // Each validator signed the one optimizer state with the result, under the registry's domain, with its own key.
            Assert.NotNull(result.StateHash);
            var digest = RegistryTypedData.ServerStateDigest(domain, job, result.Round, result.ResultHash, result.StateHash);
            Assert.Equal(3, result.StateSignatures.Count);
            Assert.All(result.StateSignatures, s => Assert.Equal(admitted[s.VPodId!], RegistryTypedData.Recover(digest, s.Signature)));
        }

        // The state moves every round.
        Assert.Equal(optimizer.HasState ? 3 : 0, status.Results.Where(r => r.StateHash is not null).Select(r => r.StateHash).Distinct().Count());
    }

    [Fact]
    public async Task ModelStore_RefusesBytesThatDoNotHashToTheReference_AndStoresTheRightOnesOnce()
    {
        var bytes = ModelEncoding.Encode(FederatedModel.Zero(3, 4));
        var reference = FederationHashing.ToHex(SHA256.HashData(bytes));
        var store = Cluster.Grains.GetGrain<IFederatedModelGrain>(reference);

        var error = await Assert.ThrowsAsync<InvalidJobOperationException>(() => store.PutAsync(ModelEncoding.Encode(FederatedModel.Zero(3, 5))));
        Assert.Contains(reference, error.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetAsync());

        await store.PutAsync(bytes);
        await store.PutAsync(bytes);
        Assert.Equal(bytes, await store.GetAsync());
    }

    [Fact]
    public async Task JobHistory_RefusesAPageWhoseResultsAndTimingsAreNotTheSameConsecutiveRounds_AndKeepsWhatItHad()
    {
        var page = Cluster.Grains.GetGrain<IFederatedJobHistoryGrain>(FederatedJobHistoryKeys.Page("history-" + Guid.NewGuid().ToString("N")[..8], 0));
        var good = new FederatedJobHistoryPage([HistoryResult(4), HistoryResult(5)], [new RoundTimings { Round = 4 }, new RoundTimings { Round = 5 }]);
        await page.PutAsync(good);

        foreach (var bad in new[]
        {
            new FederatedJobHistoryPage([HistoryResult(4), HistoryResult(6)], [new RoundTimings { Round = 4 }, new RoundTimings { Round = 6 }]),
            new FederatedJobHistoryPage([HistoryResult(4), HistoryResult(5)], [new RoundTimings { Round = 4 }]),
            new FederatedJobHistoryPage([HistoryResult(4)], [new RoundTimings { Round = 5 }]),
            new FederatedJobHistoryPage([], []),
        })
        {
            var error = await Assert.ThrowsAsync<InvalidJobOperationException>(() => page.PutAsync(bad));
            Assert.Contains("nothing was stored", error.Message, StringComparison.Ordinal);
        }

        var stored = await page.GetAsync();
        Assert.Equal([4, 5], stored!.Results.Select(r => r.Round));
        Assert.Equal([4, 5], stored.Timings.Select(t => t.Round));

        static MetaNode.Federation.RoundResult HistoryResult(int round) => new() { Job = "history", Round = round, ResultHash = "0x" + round };
    }

    [Fact]
    public async Task DatasetStore_RefusesOverLimitOrMisHashedUploads_AndStoresTheRightOnesOnce()
    {
        var client = new MetaNode.Client.MetaNodeClient(Cluster.Grains);
        var tooLarge = new byte[JobCluster.MaxUploadBytes + 1];
        var over = await Assert.ThrowsAsync<InvalidDatasetException>(() => client.UploadDatasetAsync(tooLarge));
        Assert.Contains($"more than this silo's limit of {JobCluster.MaxUploadBytes} bytes", over.Message, StringComparison.Ordinal);
        Assert.Null(await Cluster.Grains.GetGrain<IFederatedDatasetGrain>(DatasetFiles.Hash(tooLarge)).GetAsync());

        var bytes = "1,2,0\n3,4,1\n"u8.ToArray();
        var wrongKey = Cluster.Grains.GetGrain<IFederatedDatasetGrain>(DatasetFiles.Hash("other"u8));
        var mismatch = await Assert.ThrowsAsync<InvalidDatasetException>(() => wrongKey.PutAsync(bytes));
        Assert.Contains("nothing was stored", mismatch.Message, StringComparison.Ordinal);
        Assert.Null(await wrongKey.GetAsync());

        var device = await Assert.ThrowsAsync<InvalidDatasetException>(() => client.UploadDatasetFileAsync("/dev/zero"));
        Assert.Contains("not a regular file", device.Message, StringComparison.Ordinal);
        using var tooLong = new MemoryStream(new byte[4096]);
        var stream = await Assert.ThrowsAsync<InvalidDatasetException>(() => client.UploadDatasetAsync(tooLong, maxBytes: 1024));
        Assert.Contains("larger than the limit of 1024 bytes", stream.Message, StringComparison.Ordinal);

        var reference = await client.UploadDatasetAsync(bytes);
        Assert.Equal(DatasetReferences.ForUpload(DatasetFiles.Hash(bytes)), await client.UploadDatasetAsync(bytes));
        Assert.Equal(bytes, await Cluster.Grains.GetGrain<IFederatedDatasetGrain>(reference[DatasetReferences.UploadPrefix.Length..]).GetAsync());
    }

    [Fact]
    public async Task Run_GivesTheSameModels_WhenTheDigitsAreUploadedOrNamedUnderTheDatasetRoot()
    {
        var client = new MetaNode.Client.MetaNodeClient(Cluster.Grains);
        var uploaded = await client.UploadDatasetFileAsync(BuiltInDatasets.DigitsPath(), JobCluster.MaxUploadBytes);

        var builtIn = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));
        var upload = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10) with { Dataset = uploaded }, TimeSpan.FromMinutes(3));
        var underRoot = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10) with { Dataset = "./" + BuiltInDatasets.DigitsFile }, TimeSpan.FromMinutes(3));

        Assert.All(new[] { builtIn, upload, underRoot }, s => Assert.Equal(FederatedJobPhase.Completed, s.Phase));
        Assert.Equal(builtIn.Results.Select(r => r.ResultHash), upload.Results.Select(r => r.ResultHash));
        Assert.Equal(builtIn.Results.Select(r => r.ResultHash), underRoot.Results.Select(r => r.ResultHash));
    }

    [Fact]
    public async Task Start_RefusesPathsOutsideTheDatasetRoot_DevicesAndUploadsNeverMade_AndRecordsNothing()
    {
        var job = NewJobId();
        var grain = Cluster.Grains.GetGrain<IFederatedJobGrain>(job);
        var before = GC.GetTotalMemory(forceFullCollection: true);

        foreach (var (dataset, expected) in new[]
        {
            ("../../../../../../etc/passwd", "outside the data set root"),
            ("/dev/zero", "outside the data set root"),
            (DatasetReferences.ForUpload(new string('a', 64)), "no data set was uploaded"),
            ("sha256:xyz", "64 hex digits"),
        })
        {
            var error = await Assert.ThrowsAsync<InvalidJobSpecException>(() => grain.StartAsync(Spec(rounds: 1, minParticipants: 1) with { Dataset = dataset }));
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        }

        Assert.True(GC.GetTotalMemory(forceFullCollection: true) - before < 32L * 1024 * 1024, "the silo's managed memory grew by more than 32 MiB while refusing the data sets");
        await Assert.ThrowsAsync<JobNotFoundException>(() => grain.GetStatusAsync());
    }

    [Fact]
    public async Task Run_RefusesAWrongShapeUpdate_BeforeItIsStreamed_AndCompletesWithoutIt()
    {
        var misshapen = fixture.Compute[5];
        Cluster.Faults.MisshapenVPod = misshapen;
        Cluster.Faults.StreamedUpdates.Clear();
        try
        {
            var status = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 9), TimeSpan.FromMinutes(3));

            Report(status);
            Assert.Equal(FederatedJobPhase.Completed, status.Phase);
            foreach (var result in status.Results)
            {
                Assert.DoesNotContain(misshapen, result.Participants);
                Assert.Equal(9, result.Participants.Count);

                // The job's own refusal (validators, had the stream brought it, would have given theirs): it was never published.
                var rejected = Assert.Single(result.Rejected, r => r.VPodId == misshapen);
                Assert.False(Cluster.Faults.StreamedUpdates.ContainsKey((misshapen, result.Round)), $"round {result.Round}: the wrong-shape update was put on the stream");
                Assert.True(Cluster.Faults.StreamedUpdates.ContainsKey((fixture.Compute[0], result.Round)));
                Assert.Contains("the job's model is 10 × 64", rejected.Reason, StringComparison.Ordinal);
            }
        }
        finally
        {
            Cluster.Faults.MisshapenVPod = null;
        }
    }

    [Fact]
    public async Task Run_FlagsAndOutvotesAValidator_WhenTheSiloFeedsItOtherFacts()
    {
        var liar = fixture.Validators[1];
        Cluster.Faults.MisinformedValidator = liar;
        try
        {
            var job = NewJobId();
            var status = await Cluster.RunAsync(job, Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));

            Report(status);
            Assert.Equal(FederatedJobPhase.Completed, status.Phase);
            foreach (var result in status.Results)
            {
                Assert.DoesNotContain(liar, result.Validators);
                Assert.Equal([liar], result.DisagreeingValidators);
                Assert.Equal(fixture.Validators.Where(v => v != liar), result.Validators);
                Assert.Equal(result.ResultHash, (await Cluster.Chain.GetRoundAsync(job, result.Round)).ResultHash);
            }
        }
        finally
        {
            Cluster.Faults.MisinformedValidator = null;
        }
    }

    [Fact]
    public async Task Run_CountsNoVote_WhoseOptimizerStateIsNotTheOneItsValidatorSigned()
    {
        // The first validator in id order: were its vote counted, its (altered) state would be the one the job keeps.
        var tampered = fixture.Validators.Order(StringComparer.Ordinal).First();
        Cluster.Faults.TamperedStateValidator = tampered;
        try
        {
            var spec = Spec(rounds: 2, minParticipants: 10) with { ServerOptimizer = ServerOptimizer.Parse("adam", null, null) };
            var status = await Cluster.RunAsync(NewJobId(), spec, TimeSpan.FromMinutes(3));

            Report(status);
            Assert.Equal(FederatedJobPhase.Completed, status.Phase);
            var replay = MetaNode.Bench.FederatedReplay.Run(BuiltInDatasets.LoadDigits(), spec.Partition, fixture.Compute.Count, spec.Seed, spec.Rounds, spec.ServerOptimizer!, computeCluster: FederatedJobFixture.ComputeCluster);
            foreach (var result in status.Results)
            {
                Assert.Equal([tampered], result.DisagreeingValidators);
                Assert.DoesNotContain(tampered, result.Validators);
                Assert.Equal(ModelEncoding.HashHex(replay[result.Round - 1].Model), result.ResultHash);
            }
        }
        finally
        {
            Cluster.Faults.TamperedStateValidator = null;
        }
    }

    [Fact]
    public async Task Run_RejectsAPoisonedUpdate_WhenAggregationIsRobust()
    {
        var poisoned = fixture.Compute[3];
        Cluster.Faults.PoisonedVPod = poisoned;
        try
        {
            var status = await Cluster.RunAsync(NewJobId(), Spec(rounds: 3, minParticipants: 9) with { Robust = AggregationRule.Median }, TimeSpan.FromMinutes(3));

            Report(status);
            Assert.Equal(FederatedJobPhase.Completed, status.Phase);
            foreach (var result in status.Results)
            {
                Assert.Contains(result.Rejected, r => r.VPodId == poisoned);
                Assert.DoesNotContain(poisoned, result.Participants);
                Assert.Equal(9, result.Participants.Count);
            }

            Assert.True(status.FinalAccuracy > 0.8, $"accuracy {status.FinalAccuracy} after rejecting the poisoned update");
        }
        finally
        {
            Cluster.Faults.PoisonedVPod = null;
        }
    }

    [Fact]
    public async Task Run_CountsTheRealUpdate_WhenAForgedCopyIsPublishedFirst_AndChainFinalizeResubmitsOnlyWhatValidatorsSigned()
    {
        var reference = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));
        Cluster.Faults.ForgedFirstVPod = fixture.Compute[2];
        FederatedJobStatus forged;
        try
        {
            forged = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));
        }
        finally
        {
            Cluster.Faults.ForgedFirstVPod = null;
        }

        Report(forged);
        Assert.Equal(FederatedJobPhase.Completed, forged.Phase);
        Assert.Equal(reference.Results.Select(r => r.ResultHash), forged.Results.Select(r => r.ResultHash));
        Assert.All(forged.Results, r => Assert.Contains(fixture.Compute[2], r.Participants));

        // The round the validators signed is re-submitted (already on chain: nothing sent); a result they did not sign is refused.
        var round = forged.Results[0];
        var signed = new MetaNode.Chain.RoundResult { JobId = forged.JobId, Round = round.Round, ResultHash = round.ResultHash, ReceiptsRoot = round.ReceiptsRoot, ModelRef = round.ModelRef!, ModelCid = round.ModelCid! };
        var again = await Cluster.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = signed });
        Assert.Equal(FinalizationOutcome.AlreadyFinalized, again.Outcome);
        Assert.True(again.Record.Matches);
        Assert.Equal(round.ModelCid, again.Record.ModelCid);
        Assert.All(round.Signatures, s => Assert.Contains(s.VPodId!, fixture.Validators));
        var unsigned = signed with { Round = round.Round + 100 };
        await Assert.ThrowsAsync<UnsignedRoundException>(() => Cluster.Chain.FinalizeRoundAsync(new FinalizeRoundCommand { Round = unsigned }));
        Assert.False((await Cluster.Chain.GetRoundAsync(forged.JobId, unsigned.Round)).Finalized);
    }

    [Fact]
    public async Task Run_CountsAStreamEventOnce_WhenItIsDeliveredTwice()
    {
        var reference = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));
        Cluster.Faults.StreamCopies = 2;
        FederatedJobStatus doubled;
        try
        {
            doubled = await Cluster.RunAsync(NewJobId(), Spec(rounds: 2, minParticipants: 10), TimeSpan.FromMinutes(3));
        }
        finally
        {
            Cluster.Faults.StreamCopies = 1;
        }

        Report(doubled);
        Assert.Equal(FederatedJobPhase.Completed, doubled.Phase);
        Assert.Equal(reference.Results.Select(r => r.ResultHash), doubled.Results.Select(r => r.ResultHash));
        Assert.Equal(reference.Results.Select(r => r.TotalSamples), doubled.Results.Select(r => r.TotalSamples));
        Assert.All(doubled.Results, r => Assert.Equal(10, r.Participants.Count));
    }

    [Fact]
    public async Task Run_CompletesRoundsWithTheMinimum_AndTheVPodRejoins_WhenAComputeVPodIsKilledMidRound()
    {
        var victim = fixture.Compute[5];
        var before = await Cluster.Grains.GetGrain<IVPodGrain>(victim).GetStatusAsync();
        var killed = 0;
        Cluster.Faults.BeforeTraining = async (vpodId, round) =>
        {
            if (vpodId == victim && round == 2 && Interlocked.Exchange(ref killed, 1) == 0)
            {
                var status = await Cluster.Grains.GetGrain<IVPodGrain>(vpodId).GetStatusAsync();
                using var process = Process.GetProcessById(int.Parse(status.Handle!.Id, CultureInfo.InvariantCulture));
                process.Kill();
                await process.WaitForExitAsync();
            }
        };
        try
        {
            // Five rounds: under load the restarted vPod may miss round 3's deadline too; it must be back in a later round.
            var status = await Cluster.RunAsync(NewJobId(), Spec(rounds: 5, minParticipants: 9) with { RoundDeadline = TimeSpan.FromSeconds(4) }, TimeSpan.FromMinutes(3));

            Report(status);
            Assert.Equal(1, killed);
            Assert.Equal(FederatedJobPhase.Completed, status.Phase);
            Assert.Contains(victim, status.Results[0].Participants);
            Assert.Equal(9, status.Results[1].Participants.Count);
            Assert.DoesNotContain(victim, status.Results[1].Participants);
            Assert.Contains(status.Results.Skip(2), r => r.Participants.Contains(victim));
            var after = await Cluster.Grains.GetGrain<IVPodGrain>(victim).GetStatusAsync();
            Assert.True(after.RestartCount > before.RestartCount, "the killed vPod was not restarted by its policy");
        }
        finally
        {
            Cluster.Faults.BeforeTraining = null;
        }
    }

    [Fact]
    public async Task Start_RejectsTheJobAndRecordsNothing_WhenItsClustersOrQuorumDoNotFit()
    {
        var job = NewJobId();
        var grain = Cluster.Grains.GetGrain<IFederatedJobGrain>(job);

        var missing = await Assert.ThrowsAsync<InvalidJobSpecException>(() => grain.StartAsync(Spec(rounds: 1, minParticipants: 1) with { ComputeCluster = "no-such-cluster" }));
        Assert.Contains("cluster 'no-such-cluster' does not exist", missing.Message, StringComparison.Ordinal);

        var swapped = await Assert.ThrowsAsync<InvalidJobSpecException>(() => grain.StartAsync(Spec(rounds: 1, minParticipants: 1) with { ComputeCluster = FederatedJobFixture.ValidatorCluster }));
        Assert.Contains("validator vPods", swapped.Message, StringComparison.Ordinal);

        var quorum = await Assert.ThrowsAsync<InvalidJobSpecException>(() => grain.StartAsync(Spec(rounds: 1, minParticipants: 11) with { Quorum = 1 }));
        Assert.Contains("min-participants '11'", quorum.Message, StringComparison.Ordinal);
        Assert.Contains("quorum '1' is not a majority", quorum.Message, StringComparison.Ordinal);

        var dataset = await Assert.ThrowsAsync<InvalidJobSpecException>(() => grain.StartAsync(Spec(rounds: 1, minParticipants: 1) with { Dataset = "/nonexistent/data.csv" }));
        Assert.Contains("/nonexistent/data.csv", dataset.Message, StringComparison.Ordinal);

        await Assert.ThrowsAsync<JobNotFoundException>(() => grain.GetStatusAsync());
        Assert.DoesNotContain(await Cluster.Grains.GetGrain<IFederatedJobRegistryGrain>(FederatedJobRegistryKeys.Default).ListAsync(), j => j.JobId == job);
    }

    internal static FederatedJobSpec Spec(int rounds, int minParticipants) => new()
    {
        ComputeCluster = FederatedJobFixture.ComputeCluster,
        ValidatorCluster = FederatedJobFixture.ValidatorCluster,
        Dataset = BuiltInDatasets.Digits,
        Partition = PartitionScheme.Dirichlet(0.5),
        Rounds = rounds,
        LocalEpochs = 5,
        BatchSize = 16,
        LearningRate = 0.1,
        MinParticipants = minParticipants,
        RoundDeadline = TimeSpan.FromSeconds(20),
        Quorum = 2,
        Seed = 1,
    };

    internal static string NewJobId() => "job-" + Guid.NewGuid().ToString("N")[..10];

    private static Task<T> Eventually<T>(Func<Task<T>> probe, Func<T, bool> condition, string what) =>
        Infrastructure.Eventually.WaitAsync(probe, condition, what, TimeSpan.FromSeconds(30));

    private void Report(FederatedJobStatus status)
    {
        output.WriteLine($"job {status.JobId}: {status.Phase} {status.Reason}");
        foreach (var (result, timing) in status.Results.Zip(status.Timings))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {result.Round}: accuracy {result.Accuracy:F4}, participants {result.Participants.Count}, validators {string.Join(',', result.Validators)}, disagreeing {string.Join(',', result.DisagreeingValidators)}, rejected {result.Rejected.Count}, hash {result.ResultHash[..12]}, tx {result.TxHash?[..12]}; total {timing.TotalMs:F0} ms = dispatch {timing.DispatchMs:F0} + slowest training {timing.SlowestTrainingMs:F0} (collected at {timing.CollectionMs:F0}) + stream {timing.StreamDeliveryMs:F0} + aggregation {timing.AggregationMs:F0} + finalization {timing.FinalizationMs:F0}; overhead {timing.OverheadMs:F0} ms; gas {timing.GasUsed}"));
        }
    }
}
