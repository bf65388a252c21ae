using System.IO.Compression;
using System.Text;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime;
using MetaNode.Workload.Learning;

namespace MetaNode.Tests.Federation;

public sealed class DatasetTests
{
    private static TabularDataset Parse(string text) => CsvDatasetReader.Parse(new StringReader(text), "input.csv", "input");

    [Fact]
    public void LoadDigits_Reads1797RowsOf64FeaturesAndTenClasses_WhenReadingTheShippedFile()
    {
        var digits = BuiltInDatasets.LoadDigits();

        Assert.Equal((1797, 64, 10), (digits.Rows, digits.Features, digits.Classes));
        Assert.Equal(Enumerable.Range(0, 10), digits.Labels.Distinct().Order());
        Assert.All(digits.Values, v => Assert.InRange(v, 0, 16));
        Assert.Equal(0, digits.Labels[0]);
        Assert.Equal([0.0, 0, 5, 13, 9, 1, 0, 0], digits.Row(0)[..8].ToArray());
    }

    [Fact]
    public void Parse_SkipsAHeaderAndBlankLines_WhenTheFirstRowIsNotNumeric()
    {
        var data = Parse("x1, x2 ,label\n1.5,-2,1\n\n3e2,4,0\n");

        Assert.Equal((2, 2, 2), (data.Rows, data.Features, data.Classes));
        Assert.Equal([1.5, -2, 300, 4], data.Values);
        Assert.Equal([1, 0], data.Labels);
    }

    [Theory]
    [InlineData("1,2,0\n1,x,1\n", "input.csv line 2, column 2: 'x' is not a finite number.")]
    [InlineData("1,2,0\n1,2\n", "input.csv line 2: 2 columns; the first row has 3.")]
    [InlineData("1,2,0\n\n1,2,-1\n", "input.csv line 3, column 3: label '-1' is not an integer")]
    [InlineData("1,2,0\n1,2,1.5\n", "input.csv line 2, column 3: label '1.5' is not an integer")]
    [InlineData("a,b,c\n", "input.csv holds no data rows.")]
    [InlineData("7\n", "input.csv line 1: 1 column")]
    [InlineData("1,NaN,0\n", "input.csv line 1, column 2: 'NaN' is not a finite number.")]
    public void Parse_ThrowsNamingLineAndColumn_WhenARowIsBad(string text, string expected)
    {
        var error = Assert.Throws<InvalidDatasetException>(() => Parse(text));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFile_DecompressesGzipAndNamesAMissingFile_WhenGivenAPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"metanode-{Guid.NewGuid():N}.csv.gz");
        try
        {
            using (var file = File.Create(path))
            using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
            {
                gzip.Write(Encoding.UTF8.GetBytes("1,2,1\n3,4,0\n"));
            }

            var data = CsvDatasetReader.ReadFile(path);

            Assert.Equal(2, data.Rows);
            Assert.Equal(Path.GetFileName(path)[..^".csv.gz".Length], data.Name);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Contains("does not exist", Assert.Throws<InvalidDatasetException>(() => CsvDatasetReader.ReadFile(path)).Message);
    }

    [Fact]
    public void TrainTestSplit_IsStratifiedDisjointAndDeterministic_WhenGivenASeed()
    {
        var digits = BuiltInDatasets.LoadDigits();

        var (train, test) = DataPartitioner.TrainTestSplit(digits, 0.2, 9);
        var again = DataPartitioner.TrainTestSplit(digits, 0.2, 9);
        var other = DataPartitioner.TrainTestSplit(digits, 0.2, 10);

        Assert.Equal(train, again.Train);
        Assert.Equal(test, again.Test);
        Assert.NotEqual(test, other.Test);
        Assert.Empty(train.Intersect(test));
        Assert.Equal(digits.Rows, train.Length + test.Length);
        foreach (var group in digits.Labels.Select((label, row) => (label, row)).GroupBy(x => x.label))
        {
            var expected = (int)Math.Round(group.Count() * 0.2, MidpointRounding.AwayFromZero);
            Assert.Equal(expected, group.Count(x => test.Contains(x.row)));
        }
    }

    [Fact]
    public void Iid_DealsEveryRowOnceWithSizesWithinOne_WhenRowsDoNotDivideEvenly()
    {
        var rows = Enumerable.Range(100, 53).ToArray();

        var parts = DataPartitioner.Iid(rows, 5, 3);

        Assert.Equal(rows, parts.SelectMany(p => p).Order());
        Assert.True(parts.Max(p => p.Length) - parts.Min(p => p.Length) <= 1);
        Assert.Equal(parts, DataPartitioner.Iid(rows, 5, 3));
    }

    [Fact]
    public void Dirichlet_CoversEveryRowOnceAndSkewsLabelsMore_WhenAlphaIsSmaller()
    {
        var digits = BuiltInDatasets.LoadDigits();
        var rows = Enumerable.Range(0, digits.Rows).ToArray();

        var skewed = DataPartitioner.Dirichlet(digits, rows, 10, 0.1, 5);
        var mild = DataPartitioner.Dirichlet(digits, rows, 10, 100, 5);

        Assert.Equal(rows, skewed.SelectMany(p => p).Order());
        Assert.Equal(rows, mild.SelectMany(p => p).Order());
        Assert.All(skewed, p => Assert.True(p.Length >= 10));
        Assert.Equal(skewed, DataPartitioner.Dirichlet(digits, rows, 10, 0.1, 5));
        Assert.True(MeanDominantShare(digits, skewed) > MeanDominantShare(digits, mild) + 0.2,
            $"dominant-label share {MeanDominantShare(digits, skewed):F2} (α=0.1) vs {MeanDominantShare(digits, mild):F2} (α=100)");
    }

    [Fact]
    public void Dirichlet_ThrowsNamingTheFix_WhenThereAreTooFewRowsForTheParts()
    {
        var data = new TabularDataset("tiny", 1, [1, 2, 3], [0, 1, 0]);

        Assert.Throws<InvalidDatasetException>(() => DataPartitioner.Partition(data, [0, 1, 2], PartitionScheme.Dirichlet(0.5), 4, 1));
    }

    [Fact]
    public void Plan_GivesIdenticalPartitionFiles_WhenTheSeedIsTheSame()
    {
        var digits = BuiltInDatasets.LoadDigits();

        var first = DataPartitioner.Plan(digits, PartitionScheme.Dirichlet(0.5), 10, 0.2, 42);
        var second = DataPartitioner.Plan(digits, PartitionScheme.Dirichlet(0.5), 10, 0.2, 42);
        var other = DataPartitioner.Plan(digits, PartitionScheme.Dirichlet(0.5), 10, 0.2, 43);

        Assert.Equal(first.Parts.Select(PartitionWriter.ToCsv), second.Parts.Select(PartitionWriter.ToCsv));
        Assert.Equal(PartitionWriter.ToCsv(first.Test), PartitionWriter.ToCsv(second.Test));
        Assert.NotEqual(first.Parts.Select(p => p.Rows), other.Parts.Select(p => p.Rows));
        Assert.Equal(digits.Rows, first.Parts.Sum(p => p.Rows) + first.Test.Rows);
    }

    [Fact]
    public void Write_GivesADirectoryTheWorkloadReadsBack_WhenGivenTrainAndTestSplits()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"metanode-part-{Guid.NewGuid():N}");
        try
        {
            var data = new TabularDataset("t", 2, [0.1, 1e-20, 3, 4, 5, 6], [2, 0, 1]);
            DataDirectoryWriter.Write(directory, PartitionWriter.Files(new PartitionDescription("t", "iid", 1, 3, 7), data, data.Select([2])));

            var reader = new PartitionDirectory(directory);
            var train = reader.Load("train");
            var test = reader.Load("test");

            Assert.Equal(data.Values, train.Values);
            Assert.Equal(data.Labels, train.Labels);
            Assert.Equal((2, 3), (train.Features, train.Classes));
            Assert.Equal([1], test.Labels);
            Assert.Equal("0.1,1E-20,2\n3,4,0\n5,6,1\n", File.ReadAllText(Path.Combine(directory, "train.csv")));
            var manifest = File.ReadAllText(Path.Combine(directory, "manifest.json"));
            Assert.Contains("\"format\":\"metanode-partition/1\"", manifest);
            Assert.Contains("\"part\":1,\"parts\":3", manifest);
            Assert.DoesNotContain(Directory.GetFiles(directory), f => f.EndsWith(".tmp", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Generate_IsDeterministicAndSkewsLabelsPerDevice_WhenGivenASeed()
    {
        var options = new SyntheticDatasetOptions { Devices = 5, SamplesPerDevice = 100, Seed = 3 };

        var first = SyntheticDatasetGenerator.Generate(options);
        var second = SyntheticDatasetGenerator.Generate(options);
        var other = SyntheticDatasetGenerator.Generate(options with { Seed = 4 });

        Assert.Equal(PartitionWriter.ToCsv(first.Dataset), PartitionWriter.ToCsv(second.Dataset));
        Assert.NotEqual(PartitionWriter.ToCsv(first.Dataset), PartitionWriter.ToCsv(other.Dataset));
        Assert.Equal((500, 60, 10), (first.Dataset.Rows, first.Dataset.Features, first.Dataset.Classes));
        Assert.Equal(5, first.DeviceRows.Count);
        Assert.True(MeanDominantShare(first.Dataset, [.. first.DeviceRows]) > 0.3, "each device should be dominated by a few labels");
    }

    [Fact]
    public void Gamma_HasMeanNearItsShape_WhenDrawnManyTimes()
    {
        var random = new DeterministicRandom(1);

        var small = Enumerable.Range(0, 20_000).Average(_ => random.NextGamma(0.5));
        var large = Enumerable.Range(0, 20_000).Average(_ => random.NextGamma(3));

        Assert.InRange(small, 0.45, 0.55);
        Assert.InRange(large, 2.9, 3.1);
    }

    private static double MeanDominantShare(TabularDataset data, int[][] parts) =>
        parts.Average(p => (double)p.GroupBy(r => data.Labels[r]).Max(g => g.Count()) / p.Length);

    [Fact]
    public void Place_WritesPartIToTheIthComputeVPodInIdOrderAndTheTestSplitToEveryValidator_WhenGivenUnsortedIds()
    {
        var root = Path.Combine(Path.GetTempPath(), $"metanode-place-{Guid.NewGuid():N}");
        try
        {
            var digits = BuiltInDatasets.LoadDigits();
            var spec = new FederatedJobSpec { ComputeCluster = "c", ValidatorCluster = "v", Dataset = "digits", Partition = PartitionScheme.Dirichlet(0.5), Seed = 8 };
            var plan = DataPartitioner.Plan(digits, spec.Partition, 3, spec.TestFraction, spec.Seed);

            var placement = FederatedDataPlacement.Place(spec, digits, ["vpod-c", "vpod-a", "vpod-b"], ["vpod-y", "vpod-x"]);
            foreach (var (id, files) in placement.Files)
            {
                DataDirectoryWriter.Write(Path.Combine(root, id), files);
            }

            Assert.Equal(plan.Parts.Select(p => p.Rows), new[] { "vpod-a", "vpod-b", "vpod-c" }.Select(id => placement.TrainRows[id]));
            Assert.Equal(PartitionWriter.ToCsv(plan.Parts[1]), File.ReadAllBytes(Path.Combine(root, "vpod-b", "train.csv")));
            foreach (var validator in new[] { "vpod-x", "vpod-y" })
            {
                Assert.Equal(PartitionWriter.ToCsv(plan.Test), File.ReadAllBytes(Path.Combine(root, validator, "test.csv")));
                Assert.False(File.Exists(Path.Combine(root, validator, "train.csv")));
            }

            Assert.Equal((plan.Test.Rows, 64, 10), (placement.TestRows, placement.Features, placement.Classes));
            Assert.Throws<ArgumentException>(() => FederatedDataPlacement.Place(spec, digits, ["vpod-a"], ["vpod-a"]));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
