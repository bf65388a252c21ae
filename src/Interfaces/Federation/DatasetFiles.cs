using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace MetaNode.Federation;

/// <summary>What a path names, as <c>stat</c> tells it (the final target of any links).</summary>
public enum DatasetFileKind
{
    Missing = 0,
    Regular = 1,
    Directory = 2,

    /// <summary>A character or block device (<c>/dev/zero</c>), a FIFO or a socket: never read as a data set.</summary>
    Special = 3,
}

/// <summary>
/// How a data set file is read by the client and by the silo: only a regular file, only up to a maximum size, with a reader that
/// stops after the maximum instead of buffering whatever the file yields. A path is checked (its kind and size) before it is
/// opened, so a device such as <c>/dev/zero</c> is refused without a byte read.
/// </summary>
public static class DatasetFiles
{
    /// <summary>Default largest data set (a file, an upload, or the CSV text inside a gzip file): 64 MiB.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>
    /// The largest limit that can be configured: an upload travels in one grain call, and Orleans refuses message bodies above
    /// <c>MessagingOptions.MaxMessageBodySize</c> (100 MB by default); this leaves room for the rest of the message.
    /// </summary>
    public const long MaxConfigurableBytes = 96L * 1024 * 1024;

    /// <summary>The kind of <paramref name="path"/> (links followed) and its size in bytes.</summary>
    public static (DatasetFileKind Kind, long Size) Inspect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (FileNative.TryStat(path, out var mode, out var size))
        {
            return ((mode & FileNative.TypeMask) switch
            {
                FileNative.RegularType => DatasetFileKind.Regular,
                FileNative.DirectoryType => DatasetFileKind.Directory,
                _ => DatasetFileKind.Special,
            }, size);
        }

        if (FileNative.StatUnavailable)
        {
            // No statx (not Linux): only what .NET tells; the bounded read below still caps what a device could yield.
            if (Directory.Exists(path))
            {
                return (DatasetFileKind.Directory, 0);
            }

            var info = new FileInfo(path);
            return info.Exists ? (DatasetFileKind.Regular, info.Length) : (DatasetFileKind.Missing, 0);
        }

        return (DatasetFileKind.Missing, 0);
    }

    /// <summary>Why a file of this kind and size cannot be a data set, or null when it can.</summary>
    public static string? Refusal(string source, DatasetFileKind kind, long size, long maxBytes) => kind switch
    {
        DatasetFileKind.Missing => $"data set file '{source}' does not exist.",
        DatasetFileKind.Directory => $"data set '{source}' is a directory, not a file.",
        DatasetFileKind.Special => $"data set '{source}' is not a regular file (a device, FIFO or socket); nothing was read.",
        _ when size > maxBytes => $"data set file '{source}' is {size} bytes, more than the limit of {maxBytes} bytes; nothing was read.",
        _ => null,
    };

    /// <summary>
    /// Reads a regular file of at most <paramref name="maxBytes"/>; anything else throws <see cref="InvalidDatasetException"/>
    /// before the file is opened. A file that grows past the limit while it is read is refused after at most the limit plus one byte.
    /// </summary>
    public static byte[] ReadFile(string path, long maxBytes, string? source = null)
    {
        var (kind, size) = Inspect(path);
        if (Refusal(source ?? path, kind, size, maxBytes) is { } refusal)
        {
            throw new InvalidDatasetException(refusal);
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        return ReadBounded(stream, maxBytes, source ?? path);
    }

    /// <summary>Reads <paramref name="stream"/> to its end, refusing it once more than <paramref name="maxBytes"/> bytes came (never buffering more).</summary>
    public static byte[] ReadBounded(Stream stream, long maxBytes, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, (long)Array.MaxLength - 1);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, maxBytes + 1 - buffer.Length))) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                throw new InvalidDatasetException($"data set '{source}' is larger than the limit of {maxBytes} bytes; reading stopped there.");
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Async <see cref="ReadBounded(Stream, long, string)"/>.</summary>
    public static async Task<byte[]> ReadBoundedAsync(Stream stream, long maxBytes, string source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, (long)Array.MaxLength - 1);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, maxBytes + 1 - buffer.Length)), cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes)
            {
                throw new InvalidDatasetException($"data set '{source}' is larger than the limit of {maxBytes} bytes; reading stopped there.");
            }
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// <paramref name="path"/> with every link and <c>..</c> resolved (the file must exist); null when it does not. Used to decide
    /// whether a path stays inside a directory: a symbolic link to <c>/etc/shadow</c> resolves to <c>/etc/shadow</c>.
    /// </summary>
    public static string? RealPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        if (FileNative.TryRealPath(full, out var real))
        {
            return real;
        }

        if (!FileNative.RealPathUnavailable)
        {
            return null;
        }

        // No libc realpath: resolve each component's links in turn.
        if (!File.Exists(full) && !Directory.Exists(full))
        {
            return null;
        }

        var root = Path.GetPathRoot(full)!;
        var current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
            {
                current = Path.GetFullPath(target.FullName);
            }
        }

        return current;
    }

    /// <summary>True when <paramref name="path"/> (already real) is <paramref name="directory"/> (already real) or below it.</summary>
    public static bool IsInside(string path, string directory)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(directory);
        var prefix = directory.EndsWith(Path.DirectorySeparatorChar) ? directory : directory + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>The hex SHA-256 of the bytes: the key an upload is stored under.</summary>
    public static string Hash(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static class FileNative
    {
        public const uint TypeMask = 0xF000;
        public const uint RegularType = 0x8000;
        public const uint DirectoryType = 0x4000;

        private const int AtFdCwd = -100;
        private const uint StatxType = 0x1;
        private const uint StatxSize = 0x200;
        private const int StatxBufferSize = 256;
        private const int ModeOffset = 28;
        private const int SizeOffset = 40;

        public static bool StatUnavailable { get; private set; }

        public static bool RealPathUnavailable { get; private set; }

        /// <summary>statx(2) (its layout is the same on every Linux architecture); false when the path does not exist or statx is missing.</summary>
        public static bool TryStat(string path, out uint mode, out long size)
        {
            mode = 0;
            size = 0;
            if (StatUnavailable || !OperatingSystem.IsLinux())
            {
                StatUnavailable = true;
                return false;
            }

            var buffer = new byte[StatxBufferSize];
            try
            {
                if (statx(AtFdCwd, path, 0, StatxType | StatxSize, buffer) != 0)
                {
                    return false;
                }
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                StatUnavailable = true;
                return false;
            }

            mode = BitConverter.ToUInt16(buffer, ModeOffset);
            size = BitConverter.ToInt64(buffer, SizeOffset);
            return true;
        }

        public static bool TryRealPath(string path, out string real)
        {
            real = path;
            if (RealPathUnavailable || OperatingSystem.IsWindows())
            {
                RealPathUnavailable = true;
                return false;
            }

            try
            {
                var resolved = realpath(path, IntPtr.Zero);
                if (resolved == IntPtr.Zero)
                {
                    return false;
                }

                try
                {
                    real = Marshal.PtrToStringUTF8(resolved)!;
                    return true;
                }
                finally
                {
                    free(resolved);
                }
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                RealPathUnavailable = true;
                return false;
            }
        }

#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code in the project; the signatures are blittable.
        [DllImport("libc", SetLastError = true)]
        private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string pathname, int flags, uint mask, byte[] statxbuf);

        [DllImport("libc", SetLastError = true)]
        private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

        [DllImport("libc")]
        private static extern void free(IntPtr pointer);
#pragma warning restore SYSLIB1054
    }
}

/// <summary>
/// How a job names its data: <c>digits</c>, <c>synthetic</c>, <c>sha256:HEX</c> (bytes uploaded to the cluster, see
/// <see cref="IFederatedDatasetGrain"/>), or a path relative to the silo's data set root (<c>MetaNode:Datasets:Root</c>).
/// </summary>
public static class DatasetReferences
{
    public const string UploadPrefix = "sha256:";

    public static string ForUpload(string hash) => UploadPrefix + hash;

    /// <summary>True when <paramref name="dataset"/> names an upload; <paramref name="hash"/> is its key (64 lower-case hex digits when valid).</summary>
    public static bool TryParseUpload(string? dataset, out string hash)
    {
        hash = string.Empty;
        if (dataset is null || !dataset.StartsWith(UploadPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        hash = dataset[UploadPrefix.Length..].ToLowerInvariant();
        return true;
    }

    public static bool IsValidHash(string hash) =>
        hash.Length == 64 && hash.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}
