using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MetaNode.Federation;
using MetaNode.Grains.Federation;
using MetaNode.Grains.Runtime.Process;
using MetaNode.VPods;

namespace MetaNode.Tests.Federation;

/// <summary>Bad input gets a clear error and bounded work: data set files, uploads, workload answers, model updates, log queries.</summary>
public sealed class BoundedInputTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "metanode-bounded-" + Guid.NewGuid().ToString("N")[..12]);

    public BoundedInputTests()
    {
        Directory.CreateDirectory(_directory);
    }

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void ReadFile_RefusesDevZeroAtOnce_WithoutReadingIt()
    {
        Assert.Equal(DatasetFileKind.Special, DatasetFiles.Inspect("/dev/zero").Kind);
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<InvalidDatasetException>(() => DatasetFiles.ReadFile("/dev/zero", DatasetFiles.DefaultMaxBytes));

        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1024 * 1024, "refusing /dev/zero allocated a megabyte or more: it was read");
    }

    [Fact]
    public void ReadFile_RefusesAFileOverTheLimit_BeforeReadingIt_AndADirectory()
    {
        var path = Path.Combine(_directory, "big.csv");
        File.WriteAllBytes(path, new byte[4096]);
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<InvalidDatasetException>(() => DatasetFiles.ReadFile(path, 1024));

        Assert.Contains("is 4096 bytes, more than the limit of 1024 bytes; nothing was read", error.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 4096, "the over-size file was read");
        Assert.Contains("is a directory", Assert.Throws<InvalidDatasetException>(() => DatasetFiles.ReadFile(_directory, 1024)).Message, StringComparison.Ordinal);
        Assert.Equal(4096, DatasetFiles.ReadFile(path, 4096).Length);
    }

    [Fact]
    public void ReadBounded_StopsJustPastTheLimit_WhenAStreamNeverEnds()
    {
        using var endless = new EndlessStream();

        var error = Assert.Throws<InvalidDatasetException>(() => DatasetFiles.ReadBounded(endless, 100_000, "endless"));

        Assert.Contains("larger than the limit of 100000 bytes", error.Message, StringComparison.Ordinal);
        Assert.Equal(100_001, endless.Served);
    }

    [Fact]
    public void CsvRead_RefusesGzipThatInflatesPastTheLimit()
    {
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = Encoding.ASCII.GetBytes("1,2,0\n");
            for (var i = 0; i < 100_000; i++)
            {
                gzip.Write(row);
            }
        }

        compressed.Position = 0;
        var error = Assert.Throws<InvalidDatasetException>(() => CsvDatasetReader.Read(compressed, "bomb.csv.gz", "bomb", maxTextBytes: 64 * 1024));

        Assert.Contains("CSV text is larger than the limit of 65536 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ResolveUnderRoot_RefusesDotDotAndLinksOutOfTheRoot_AndEveryPathWithoutARoot()
    {
        var root = Path.Combine(_directory, "root");
        Directory.CreateDirectory(Path.Combine(root, "sub"));
        File.WriteAllText(Path.Combine(root, "data.csv"), "1,2,0\n");
        var outside = Path.Combine(_directory, "secret.csv");
        File.WriteAllText(outside, "1,2,0\n");
        File.CreateSymbolicLink(Path.Combine(root, "shadow.csv"), "/etc/shadow");
        File.CreateSymbolicLink(Path.Combine(root, "secret.csv"), outside);
        Directory.CreateSymbolicLink(Path.Combine(root, "etc"), "/etc");
        File.CreateSymbolicLink(Path.Combine(root, "inside.csv"), Path.Combine(root, "data.csv"));

        var real = DatasetFiles.RealPath(Path.Combine(root, "data.csv"));
        Assert.Equal(real, DatasetRoot.Resolve(root, "data.csv"));
        Assert.Equal(real, DatasetRoot.Resolve(root, "sub/../data.csv"));
        Assert.Equal(real, DatasetRoot.Resolve(root, "inside.csv"));
        foreach (var escape in new[] { "../secret.csv", "sub/../../secret.csv", outside, "/dev/zero" })
        {
            Assert.Contains("is outside the data set root", Assert.Throws<InvalidDatasetException>(() => DatasetRoot.Resolve(root, escape)).Message, StringComparison.Ordinal);
        }

        foreach (var link in new[] { "shadow.csv", "secret.csv", "etc/passwd" })
        {
            Assert.Contains("outside the data set root", Assert.Throws<InvalidDatasetException>(() => DatasetRoot.Resolve(root, link)).Message, StringComparison.Ordinal);
        }

        Assert.Contains("opens no data set files", Assert.Throws<InvalidDatasetException>(() => DatasetRoot.Resolve(null, "data.csv")).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<InvalidDatasetException>(() => DatasetRoot.Resolve(root, "missing.csv")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_RefusesADeviceInsideTheRoot_WithoutReadingIt()
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<InvalidDatasetException>(() => BuiltInDatasets.Load("zero", 1, null, new DatasetOptions { Root = "/dev" }));

        Assert.Contains("not a regular file", error.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1024 * 1024, "refusing /dev/zero allocated a megabyte or more: it was read");
    }

    [Fact]
    public void Load_RefusesAFileUnderTheRootAboveTheLimit_WithoutReadingIt()
    {
        File.WriteAllBytes(Path.Combine(_directory, "big.csv"), new byte[8192]);
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<InvalidDatasetException>(() => BuiltInDatasets.Load("big.csv", 1, null, new DatasetOptions { Root = _directory, MaxUploadBytes = 4096 }));

        Assert.Contains("is 8192 bytes, more than the limit of 4096 bytes; nothing was read", error.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 8192, "the over-size file was read");
    }

    [Fact]
    public void Load_ReadsAFileUnderTheRoot_AsTheSameDataAsTheBuiltInSet()
    {
        var options = new DatasetOptions { Root = Path.GetDirectoryName(BuiltInDatasets.DigitsPath()) };

        var underRoot = BuiltInDatasets.Load(BuiltInDatasets.DigitsFile, 1, null, options);
        var builtIn = BuiltInDatasets.LoadDigits();

        Assert.Equal(builtIn.Values, underRoot.Values);
        Assert.Equal(builtIn.Labels, underRoot.Labels);
        Assert.Contains("opens no data set files", Assert.Throws<InvalidDatasetException>(() => BuiltInDatasets.Load(BuiltInDatasets.DigitsFile, 1, null, new DatasetOptions())).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(100, true)]
    [InlineData(DatasetFiles.DefaultMaxBytes, false)]
    [InlineData(DatasetFiles.MaxConfigurableBytes + 1, true)]
    public void DatasetOptions_RefuseALimitOutOfRange(long limit, bool refused)
    {
        var result = new DatasetOptionsValidator().Validate(null, new DatasetOptions { MaxUploadBytes = limit });

        Assert.Equal(refused, result.Failed);
    }

    [Fact]
    public void DatasetOptions_RefuseARootThatIsNotAnAbsoluteDirectory()
    {
        Assert.True(new DatasetOptionsValidator().Validate(null, new DatasetOptions { Root = "relative/dir" }).Failed);
        Assert.True(new DatasetOptionsValidator().Validate(null, new DatasetOptions { Root = Path.Combine(_directory, "missing") }).Failed);
        Assert.False(new DatasetOptionsValidator().Validate(null, new DatasetOptions { Root = _directory }).Failed);
    }

    [Fact]
    public void UploadRefusal_NamesTheLimit_WhenTheBytesAreTooMany()
    {
        var key = DatasetFiles.Hash("x"u8);

        Assert.Null(DatasetUploads.Refusal(key, 10, 10));
        Assert.Contains("more than this silo's limit of 10 bytes", DatasetUploads.Refusal(key, 11, 10), StringComparison.Ordinal);
        Assert.Contains("not 64 lower-case hex digits", DatasetUploads.Refusal("../etc", 1, 10), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WorkloadClient_RefusesAnAnswerOverTheLimit_AndReadsOnlyAboutTheLimit(bool declareLength)
    {
        const long limit = 64 * 1024;
        using var server = new HugeAnswerServer(declareLength);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var client = new FederatedWorkloadClient(http, limit);

        var error = await Assert.ThrowsAsync<WorkloadRequestException>(() => client.GetStatisticsAsync(server.Endpoint));
        await server.DoneAsync();

        Assert.Contains(declareLength ? "the answer declares" : "the answer is larger than the limit of 65536 bytes", error.Message, StringComparison.Ordinal);

        // What the server got out before the client hung up: the limit, plus what the sockets buffered, never the gigabyte it offered.
        Assert.True(server.Written < 32L * 1024 * 1024, $"the server wrote {server.Written} bytes before the client stopped reading");
    }

    [Fact]
    public async Task Workload_RefusesARequestBodyAboveItsLimit_FromItsContentLength()
    {
        var data = Path.Combine(_directory, "data");
        Directory.CreateDirectory(data);
        await using var workload = await InProcessWorkload.StartAsync("vpod-bounded", data, Path.Combine(_directory, "keys"));
        using var socket = new TcpClient();
        await socket.ConnectAsync(workload.Endpoint.Host, workload.Endpoint.Port);
        await using var stream = socket.GetStream();
        var declared = MetaNode.Workload.WorkloadApp.MaxRequestBodyBytes + 1;

        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {MetaNode.Workloads.WorkloadProtocol.DataPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{\"files\":["));
        var answer = new byte[4096];
        var read = await stream.ReadAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.StartsWith("HTTP/1.1 413", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
    }

    [Fact]
    public void UpdateProblem_RefusesAnotherShapeOrNonFiniteNumbers()
    {
        Assert.Null(FederatedModel.UpdateProblem(10, 64, FederatedModel.Zero(10, 64)));
        Assert.Contains("11 classes × 64 features model; the job's model is 10 × 64", FederatedModel.UpdateProblem(10, 64, FederatedModel.Zero(11, 64)), StringComparison.Ordinal);
        Assert.Contains("the job's model is 10 × 64", FederatedModel.UpdateProblem(10, 64, FederatedModel.Zero(10, 63)), StringComparison.Ordinal);
        Assert.Contains("no model", FederatedModel.UpdateProblem(10, 64, null), StringComparison.Ordinal);
        var parameters = new double[FederatedModel.ParameterCount(2, 2)];
        parameters[3] = double.NaN;
        Assert.Contains("parameter 3 is NaN", FederatedModel.UpdateProblem(2, 2, new FederatedModel(2, 2, parameters)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogQuery_RefusesATailAboveTheCap_AndNoTailReturnsAtMostTheCap()
    {
        var logs = Path.Combine(_directory, "logs");
        Directory.CreateDirectory(logs);
        var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        await using (var file = File.Create(Path.Combine(logs, ProcessLogFormat.LiveFileName)))
        {
            for (var i = 0; i < LogQueries.MaxTail + 5; i++)
            {
                file.Write(ProcessLogFormat.Format(start.AddTicks(i), LogStream.Stdout, $"line {i}"));
            }
        }

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ProcessLogReader.ReadAsync(logs, new LogQuery(1_000_000_000), CancellationToken.None));
        Assert.Contains("more than the 10000 lines a log query returns", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => LogQueries.Bounded(new LogQuery(LogQueries.MaxTail + 1)));
        Assert.Equal(new LogQuery(LogQueries.MaxTail), LogQueries.Bounded(new LogQuery()));

        var all = await ProcessLogReader.ReadAsync(logs, new LogQuery(), CancellationToken.None);
        Assert.Equal(LogQueries.MaxTail, all.Count);
        Assert.Equal($"line {LogQueries.MaxTail + 4}", all[^1].Text);
        Assert.Equal(3, (await ProcessLogReader.ReadAsync(logs, new LogQuery(3), CancellationToken.None)).Count);
    }

    [Fact]
    public async Task OutputPump_SplitsALineWithoutEnd_SoNoLogLineIsLongerThanTheCap()
    {
        var logs = Path.Combine(_directory, "pump");
        Directory.CreateDirectory(logs);
        using var endless = new EndlessStream(limit: 1024 * 1024);
        using (var writer = new RotatingLogWriter("vpod-pump", logs, 64L * 1024 * 1024, 2, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
        {
            await OutputPump.RunAsync(endless, LogStream.Stdout, writer, CancellationToken.None);
        }

        var lines = await ProcessLogReader.ReadAsync(logs, new LogQuery(), CancellationToken.None);
        Assert.Equal(1024 * 1024 / OutputPump.MaxLineBytes, lines.Count);
        Assert.All(lines, l => Assert.Equal(OutputPump.MaxLineBytes, l.Text.Length));
    }

    [Fact]
    public async Task OutputPump_JoinsALineSplitAcrossReads_AndKeepsTheLastLineWithoutEnd()
    {
        var logs = Path.Combine(_directory, "pump-chunks");
        Directory.CreateDirectory(logs);
        var pipe = new System.IO.Pipelines.Pipe();
        using (var writer = new RotatingLogWriter("vpod-chunks", logs, 64L * 1024 * 1024, 2, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
        {
            var pump = OutputPump.RunAsync(pipe.Reader.AsStream(), LogStream.Stdout, writer, CancellationToken.None);
            foreach (var chunk in new[] { "hel", "lo\r\nwor", "ld\n", "ü", "ber\nno end" })
            {
                await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(chunk));
                await pipe.Writer.FlushAsync();
            }

            await pipe.Writer.CompleteAsync();
            await pump;
        }

        var lines = await ProcessLogReader.ReadAsync(logs, new LogQuery(), CancellationToken.None);
        Assert.Equal(["hello", "world", "über", "no end"], lines.Select(l => l.Text));
    }

    /// <summary>Serves zeros (an 'x' when read as text) forever, or up to a limit; counts what it served.</summary>
    private sealed class EndlessStream(long limit = long.MaxValue) : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, limit - Served);
            buffer.AsSpan(offset, n).Fill((byte)'x');
            Served += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>An HTTP server on 127.0.0.1 that answers one request with a 1 GiB body (declared or chunked) until the client hangs up.</summary>
    private sealed class HugeAnswerServer : IDisposable
    {
        private const long Offered = 1024L * 1024 * 1024;
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Task _serving;
        private long _written;

        public HugeAnswerServer(bool declareLength)
        {
            _listener.Start();
            Endpoint = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
            _serving = ServeAsync(declareLength);
        }

        public Uri Endpoint { get; }

        public long Written => Interlocked.Read(ref _written);

        public Task DoneAsync() => _serving.WaitAsync(TimeSpan.FromSeconds(30));

        public void Dispose() => _listener.Stop();

        private async Task ServeAsync(bool declareLength)
        {
            using var socket = await _listener.AcceptTcpClientAsync();
            await using var stream = socket.GetStream();
            var request = new byte[64 * 1024];
            var received = new StringBuilder();
            while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(request);
                if (n == 0)
                {
                    return;
                }

                received.Append(Encoding.ASCII.GetString(request, 0, n));
            }

            var head = declareLength
                ? $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {Offered}\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            var chunk = new byte[16 * 1024];
            chunk.AsSpan().Fill((byte)' ');
            var framed = declareLength ? chunk : [.. Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"), .. chunk, .. "\r\n"u8];
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
                while (Written < Offered)
                {
                    await stream.WriteAsync(framed);
                    Interlocked.Add(ref _written, framed.Length);
                }
            }
            catch (IOException)
            {
                // The client hung up.
            }
        }
    }
}
