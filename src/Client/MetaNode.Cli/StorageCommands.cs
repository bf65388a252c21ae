using System.CommandLine;
using System.Globalization;
using MetaNode.Storage;
using Spectre.Console;
using static MetaNode.Cli.CliApp;

namespace MetaNode.Cli;

/// <summary>
/// <c>storage put|get|stat|pin|unpin|ls|gc|lock|resolve|history</c>: files in a storage cluster under their IPFS CIDs, and db.lock
/// records. <c>--cluster</c> names the storage cluster; without it the only one there is.
/// </summary>
internal static class StorageCommands
{
    public static Command Build(CliContext context)
    {
        var storage = new Command("storage", "Store files by IPFS CID in a storage cluster; db.lock records (write-once names).");
        storage.Subcommands.Add(Put(context));
        storage.Subcommands.Add(Get(context));
        storage.Subcommands.Add(Stat(context));
        storage.Subcommands.Add(Pin(context));
        storage.Subcommands.Add(Unpin(context));
        storage.Subcommands.Add(List(context));
        storage.Subcommands.Add(Gc(context));
        storage.Subcommands.Add(Lock(context));
        storage.Subcommands.Add(Resolve(context));
        storage.Subcommands.Add(History(context));
        return storage;
    }

    /// <summary>What <c>storage get</c> reports.</summary>
    internal sealed record GetResult(string Cid, long Bytes, string Path);

    /// <summary>What <c>storage unpin</c> reports.</summary>
    internal sealed record UnpinResult(string Cid, bool Unpinned);

    private static Option<string?> ClusterOption() =>
        new("--cluster") { Description = "The storage cluster (default: the only one).", HelpName = "NAME" };

    private static Argument<string> CidArgument() => new("cid") { Description = "A CIDv1 (base32, e.g. bafk… or bafy…)." };

    private static Command Put(CliContext context)
    {
        var file = new Argument<string>("file") { Description = "The file to store." };
        var cluster = ClusterOption();
        var put = new Command("put", "Store and pin a file; prints its CID (the one `ipfs add --cid-version 1` gives).") { file, cluster };
        put.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var path = parseResult.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new CliUsageException($"'{path}' is not a file.");
            }

            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            await using var content = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            var stored = await client.PutFileAsync(parseResult.GetValue(cluster), content, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(stored);
            }
            else
            {
                await context.Stdout.WriteLineAsync(stored.Cid).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return put;
    }

    private static Command Get(CliContext context)
    {
        var cid = CidArgument();
        var outPath = new Option<string?>("--out") { Description = "The file to write.", HelpName = "PATH", Required = true };
        var cluster = ClusterOption();
        var get = new Command("get", "Write a stored file, every block checked against its CID.") { cid, outPath, cluster };
        get.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            var path = Path.GetFullPath(parseResult.GetValue(outPath)!);
            var temporary = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            long written;
            try
            {
                await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
                {
                    written = await client.GetFileAsync(parseResult.GetValue(cluster), parseResult.GetValue(cid)!, file, ct).ConfigureAwait(false);
                }

                File.Move(temporary, path, overwrite: true);
            }
            finally
            {
                File.Delete(temporary);
            }

            var result = new GetResult(parseResult.GetValue(cid)!, written, path);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(result);
            }
            else
            {
                await context.Stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Wrote {written} bytes of {result.Cid} (every block checked) to {path}.")).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return get;
    }

    private static Command Stat(CliContext context)
    {
        var cid = CidArgument();
        var cluster = ClusterOption();
        var stat = new Command("stat", "Show a CID's size, blocks, copies and pins.") { cid, cluster };
        stat.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var found = await client.StatContentAsync(parseResult.GetValue(cluster), parseResult.GetValue(cid)!, ct).ConfigureAwait(false)
                ?? throw new ContentNotFoundException($"{parseResult.GetValue(cid)} is not stored in that storage cluster.");
            if (output.Format == OutputFormat.Json)
            {
                output.Json(found);
                return ExitCodes.Success;
            }

            var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
            void Row(string key, string? value) => grid.AddRow(new Markup($"[bold]{key}[/]"), new Text(value ?? "-"));
            Row("CID", found.Cid);
            Row("Cluster", found.Cluster);
            Row("Codec", found.Codec);
            Row("Size", string.Create(CultureInfo.InvariantCulture, $"{found.Size} bytes ({CliOutput.Bytes(found.Size)})"));
            Row("Blocks", string.Create(CultureInfo.InvariantCulture, $"{found.Blocks}{(found.MissingBlocks > 0 ? $", {found.MissingBlocks} missing" : string.Empty)}"));
            Row("Copies", string.Create(CultureInfo.InvariantCulture, $"at least {found.MinLiveCopies} live of {found.Replication} wanted per block"));
            Row("Root held by", found.Holders.Count == 0 ? null : string.Join(", ", found.Holders));
            Row("Pins", found.Pins.Count == 0 ? (found.Referenced ? "none (part of a pinned DAG)" : "none (garbage collection may remove it)") : string.Join(", ", found.Pins.Select(p => $"{p.Owner} by {p.By}")));
            new CliOutput(context.Stdout, OutputFormat.Table).Renderer.Write(grid);
            return ExitCodes.Success;
        }));
        return stat;
    }

    private static Command Pin(CliContext context)
    {
        var cid = CidArgument();
        var cluster = ClusterOption();
        var pin = new Command("pin", "Keep a stored DAG (every block must be stored).") { cid, cluster };
        pin.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var record = await client.PinContentAsync(parseResult.GetValue(cluster), parseResult.GetValue(cid)!, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(record);
            }
            else
            {
                await context.Stdout.WriteLineAsync($"Pinned {record.Cid}.").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return pin;
    }

    private static Command Unpin(CliContext context)
    {
        var cid = CidArgument();
        var cluster = ClusterOption();
        var unpin = new Command("unpin", "Remove your pin (a job's model or a db.lock record stays kept); garbage collection may then remove the blocks.") { cid, cluster };
        unpin.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var text = parseResult.GetValue(cid)!;
            var removed = await client.UnpinContentAsync(parseResult.GetValue(cluster), text, ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(new UnpinResult(text, removed));
            }
            else
            {
                await context.Stdout.WriteLineAsync(removed ? $"Unpinned {text}." : $"{text} had no pin of yours; nothing changed.").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return unpin;
    }

    private static Command List(CliContext context)
    {
        var cluster = ClusterOption();
        var list = new Command("ls", "List the pinned CIDs: users' files, jobs' models and round records, db.lock records.") { cluster };
        list.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var pins = await client.ListPinsAsync(parseResult.GetValue(cluster), ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(pins);
                return ExitCodes.Success;
            }

            if (pins.Count == 0)
            {
                await context.Stdout.WriteLineAsync("Nothing is pinned.").ConfigureAwait(false);
                return ExitCodes.Success;
            }

            var table = new Table().Border(TableBorder.Rounded).AddColumns("CID", "SIZE", "PINNED FOR", "BY", "AT");
            foreach (var p in pins)
            {
                table.AddRow(p.Cid, CliOutput.Bytes(p.Size), p.Owner, p.By, CliOutput.Time(p.At));
            }

            new CliOutput(context.Stdout, OutputFormat.Table).Renderer.Write(table);
            return ExitCodes.Success;
        }));
        return list;
    }

    private static Command Gc(CliContext context)
    {
        var cluster = ClusterOption();
        var gc = new Command("gc", "Remove blocks no pin, job or db.lock record references (older than the grace period).") { cluster };
        gc.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var report = await client.CollectGarbageAsync(parseResult.GetValue(cluster), ct).ConfigureAwait(false);
            if (output.Format == OutputFormat.Json)
            {
                output.Json(report);
            }
            else
            {
                await context.Stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"Removed {report.Removed} blocks ({CliOutput.Bytes(report.BytesFreed)}); kept {report.Referenced} referenced and {report.InGrace} in their grace period; {report.Deferred} copies wait for their vPod.")).ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }));
        return gc;
    }

    private static Command Lock(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "The record's name (letters, digits, '.', '_', '-', '/')." };
        var cid = CidArgument();
        var cluster = ClusterOption();
        var lockCommand = new Command("lock", "Bind a name to a stored CID once (db.lock); a second bind of the name fails and changes nothing.") { name, cid, cluster };
        lockCommand.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var record = await client.LockAsync(parseResult.GetValue(name)!, parseResult.GetValue(cid)!, parseResult.GetValue(cluster), ct).ConfigureAwait(false);
            WriteRecords(context, output, [record], single: true);
            return ExitCodes.Success;
        }));
        return lockCommand;
    }

    private static Command Resolve(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "The record's name." };
        var resolve = new Command("resolve", "Show the CID a db.lock name is bound to.") { name };
        resolve.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            var record = await client.ResolveLockAsync(parseResult.GetValue(name)!, ct).ConfigureAwait(false)
                ?? throw new ContentNotFoundException($"db.lock name '{parseResult.GetValue(name)}' is not bound.");
            WriteRecords(context, output, [record], single: true);
            return ExitCodes.Success;
        }));
        return resolve;
    }

    private static Command History(CliContext context)
    {
        var history = new Command("history", "Every db.lock bind, oldest first, with who and when.");
        history.SetAction((parseResult, cancellationToken) => context.ExecuteAsync(parseResult, cancellationToken, async (output, ct) =>
        {
            await using var client = await context.ConnectAsync(parseResult, ct).ConfigureAwait(false);
            WriteRecords(context, output, await client.LockHistoryAsync(ct).ConfigureAwait(false), single: false);
            return ExitCodes.Success;
        }));
        return history;
    }

    private static void WriteRecords(CliContext context, CliOutput output, IReadOnlyList<LockRecord> records, bool single)
    {
        if (output.Format == OutputFormat.Json)
        {
            if (single)
            {
                output.Json(records[0]);
            }
            else
            {
                output.Json(records);
            }

            return;
        }

        if (single)
        {
            context.Stdout.WriteLine(records[0].Cid);
            return;
        }

        var table = new Table().Border(TableBorder.Rounded).AddColumns("#", "NAME", "CID", "CLUSTER", "BY", "AT");
        foreach (var r in records)
        {
            table.AddRow(r.Sequence.ToString(CultureInfo.InvariantCulture), r.Name, r.Cid, r.Cluster, r.By, CliOutput.Time(r.At));
        }

        new CliOutput(context.Stdout, OutputFormat.Table).Renderer.Write(table);
    }
}
