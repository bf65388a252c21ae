using System.Text.RegularExpressions;
using MetaNode.Workloads;

namespace MetaNode.Workload.Data;

/// <summary>
/// <c>POST /v2/data</c>: the job's files for the data directory. The whole request is checked before anything is written (plain
/// names, at most <see cref="MaxFiles"/> files, base64 content, at most <see cref="WorkloadProtocol.MaxDataBytes"/> bytes in all);
/// then each file is written in order under a temporary name in the same directory, flushed to disk and renamed into place, so a
/// reader sees either the old file or the whole new one. The job sends <c>manifest.json</c> last.
/// </summary>
public static partial class DataPlacement
{
    public const int MaxFiles = 64;

    public static bool IsPlainName(string? name) => name is not null && PlainName().IsMatch(name);

    public static DataResponse Place(string dataDirectory, string vpodId, DataRequest? request)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        var files = Decode(request);
        Directory.CreateDirectory(dataDirectory);
        long total = 0;
        foreach (var (name, content) in files)
        {
            WriteAtomically(Path.Combine(dataDirectory, name), content);
            total += content.Length;
        }

        return new DataResponse(vpodId, files.Count, total);
    }

    private static List<(string Name, byte[] Content)> Decode(DataRequest? request)
    {
        if (request?.Files is not { } files)
        {
            throw new InvalidWorkloadRequestException("The body must be a JSON object with files: [{\"name\": …, \"content\": base64}].");
        }

        if (files.Length is 0 or > MaxFiles)
        {
            throw new InvalidWorkloadRequestException($"files holds {files.Length} entries; a placement carries 1 to {MaxFiles} files.");
        }

        var decoded = new List<(string, byte[])>(files.Length);
        var names = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        for (var i = 0; i < files.Length; i++)
        {
            var file = files[i] ?? throw new InvalidWorkloadRequestException($"files[{i}] is null.");
            if (!IsPlainName(file.Name))
            {
                throw new InvalidWorkloadRequestException(
                    $"files[{i}].name '{file.Name}' is not a plain file name: 1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit (no '/', no leading dot).");
            }

            if (!names.Add(file.Name))
            {
                throw new InvalidWorkloadRequestException($"files[{i}].name '{file.Name}' appears twice in the placement.");
            }

            byte[] content;
            try
            {
                content = Convert.FromBase64String(file.Content ?? throw new InvalidWorkloadRequestException($"files[{i}].content ('{file.Name}') is missing."));
            }
            catch (FormatException)
            {
                throw new InvalidWorkloadRequestException($"files[{i}].content ('{file.Name}') is not base64.");
            }

            total += content.Length;
            if (total > WorkloadProtocol.MaxDataBytes)
            {
                throw new InvalidWorkloadRequestException($"the placement holds more than {WorkloadProtocol.MaxDataBytes} bytes (reached at files[{i}] '{file.Name}'); send the data in several requests.");
            }

            decoded.Add((file.Name, content));
        }

        return decoded;
    }

    private static void WriteAtomically(string path, byte[] content)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex PlainName();
}
