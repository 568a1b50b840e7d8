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
internal sealed class SwarmStateMachine(DirectoryInfo location, ILogger logger, long snapshotInterval = SwarmStateMachine.DefaultSnapshotInterval,
    StoreCipher? cipher = null)
    : SimpleStateMachine(location)
{
    private readonly StoreCipher cipher = cipher ?? StoreCipher.None;

    public const long DefaultSnapshotInterval = 10_000;

    private long sinceSnapshot;

    public SwarmState State { get; } = new();

    public long SnapshotInterval { get; } = snapshotInterval;

    /// <summary>Raised after every applied command (on the applying thread).</summary>
    public event Action<SwarmCommand>? Applied;

    /// <summary>
    /// Why this manager stopped applying the log (an entry it cannot read), or null while it applies.
    /// Set before <see cref="Halted"/> is raised.
    /// </summary>
    public string? HaltReason { get; private set; }

    /// <summary>
    /// Raised once, on the applying thread, when an entry cannot be read and this manager stops
    /// applying the log: its state would otherwise silently differ from the other managers'.
    /// </summary>
    public event Action<string>? Halted;

    private int halted;

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        if (entry.IsConfiguration || entry.Length is 0)
            return ValueTask.FromResult(false);

        if (!entry.TryGetPayload(out var payload))
            payload = new ReadOnlySequence<byte>(Concat(entry.GetPayload()));

        SwarmCommand command;
        try
        {
            command = SwarmCommand.FromBytes(payload.IsSingleSegment ? cipher.Open(payload.FirstSpan) : cipher.Open(payload.ToArray()));
        }
        catch (UnreadableCommandException e)
        {
            // Skipping the entry would leave this replica's state different from the others' for
            // good. Stop instead: DotNext stops applying after an exception from ApplyAsync, and the
            // entry stays in the log, so an upgraded psswarmd applies it on restart.
            Halt(entry.Index, e);
            throw;
        }

        // Total: a malformed command changes nothing but the version, the same way on every manager.
        if (!State.Apply(command, out var error))
            logger.LogWarning("Log entry {Index} changed nothing: {Error}", entry.Index, error);
        try
        {
            Applied?.Invoke(command);
        }
        catch (Exception e)
        {
            // A subscriber's failure must not stop the state machine either.
            logger.LogError(e, "A handler of applied log entry {Index} failed", entry.Index);
        }
        return ValueTask.FromResult(++sinceSnapshot >= SnapshotInterval && ResetCounter());
    }

    private void Halt(long index, UnreadableCommandException e)
    {
        var reason = $"Cannot apply swarm store log entry {index}: {e.Message}";
        // No stack trace: the message says all there is (the entry, both versions, the JSON error).
        logger.LogError("Cannot apply swarm store log entry {Index} (written by store format version {WrittenVersion}, op {Op}; this psswarmd reads version {FormatVersion}); this manager stops applying the log: {Error}",
            index, e.WrittenVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown", e.Op ?? "unknown",
            SwarmCommand.FormatVersion, e.Message);
        if (Interlocked.Exchange(ref halted, 1) != 0) return;
        HaltReason = reason;
        try
        {
            Halted?.Invoke(reason);
        }
        catch (Exception handlerError)
        {
            logger.LogError(handlerError, "A handler of the state machine halt failed");
        }
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
        => writer.Invoke(cipher.Seal(State.Serialize()), token);

    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        var bytes = await File.ReadAllBytesAsync(snapshotFile.FullName, token).ConfigureAwait(false);
        State.Deserialize(cipher.Open(bytes));
    }
}
