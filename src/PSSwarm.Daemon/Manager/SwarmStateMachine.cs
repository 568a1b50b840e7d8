using System.Buffers;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using PSSwarm.Core.State;

namespace PSSwarm.Daemon.Manager;

/// <summary>
/// The Raft state machine: applies <see cref="SwarmCommand"/> entries to the in-memory
/// <see cref="SwarmState"/> and takes a full snapshot (the state is small) every
/// <see cref="SnapshotInterval"/> entries. Snapshots are rare on purpose: DESIGN.md lists
/// two DotNext defects seen around snapshot transfer and clean-up under load.
/// </summary>
internal sealed class SwarmStateMachine(DirectoryInfo location, ILogger logger, long snapshotInterval = SwarmStateMachine.DefaultSnapshotInterval)
    : SimpleStateMachine(location)
{
    public const long DefaultSnapshotInterval = 10_000;

    private long sinceSnapshot;

    public SwarmState State { get; } = new();

    public long SnapshotInterval { get; } = snapshotInterval;

    /// <summary>Raised after every applied command (on the applying thread).</summary>
    public event Action<SwarmCommand>? Applied;

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.IsConfiguration || entry.Length is 0)
            return ValueTask.FromResult(false);

        if (!entry.TryGetPayload(out var payload))
            payload = new ReadOnlySequence<byte>(Concat(entry.GetPayload()));

        SwarmCommand command;
        try
        {
            command = payload.IsSingleSegment
                ? SwarmCommand.FromBytes(payload.FirstSpan)
                : SwarmCommand.FromBytes(payload.ToArray());
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or NotSupportedException or InvalidDataException)
        {
            // A command this version cannot read: skip it rather than wedge the log.
            logger.LogError("Skipping unreadable log entry {Index}: {Error}", entry.Index, e.Message);
            return ValueTask.FromResult(false);
        }

        State.Apply(command);
        Applied?.Invoke(command);
        return ValueTask.FromResult(++sinceSnapshot >= SnapshotInterval && ResetCounter());
    }

    private bool ResetCounter()
    {
        sinceSnapshot = 0;
        return true;
    }

    private static byte[] Concat(IEnumerable<ReadOnlyMemory<byte>> parts)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var part in parts) buffer.Write(part.Span);
        return buffer.WrittenSpan.ToArray();
    }

    protected override ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
        => writer.Invoke(State.Serialize(), token);

    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        var bytes = await File.ReadAllBytesAsync(snapshotFile.FullName, token).ConfigureAwait(false);
        State.Deserialize(bytes);
    }
}
